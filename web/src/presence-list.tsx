import type { Presence } from '../shared/collab-session.js';
import type { User } from './session.js';
import { initials, peopleOf } from '../shared/people.js';

export function Avatar(props: { name: string; color: string; idle?: boolean; testId?: string; label?: string }) {
  return (
    <span
      className={`avatar ${props.idle ? 'idle' : ''}`}
      style={{ background: props.color }}
      title={`${props.label ?? props.name}${props.idle ? ' (idle)' : ''}`}
      data-testid={props.testId}
      data-name={props.name}
      data-status={props.idle ? 'idle' : 'active'}
    >
      {initials(props.name)}
    </span>
  );
}

/** Everyone on the dashboard: me first, then others (one avatar per person, idle dimmed). */
export function PresenceList({ me, presence }: { me: User; presence: ReadonlyMap<string, Presence> }) {
  const people = peopleOf(presence.values(), me.id);
  return (
    <div className="presence" aria-label="People here" data-testid="presence-list">
      <Avatar name={me.name} label={`${me.name} (you)`} color={me.color} />
      {people.map((p) => (
        <Avatar key={p.id} name={p.name} color={p.color} idle={p.idle} testId="presence-avatar" />
      ))}
    </div>
  );
}
