import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  CollaboratorFieldsFragmentDoc,
  DashboardDocument as DashboardQuery,
  InviteCollaboratorDocument,
  RemoveCollaboratorDocument,
  type Role,
  UpdateCollaboratorRoleDocument,
} from '../shared/gql/graphql.js';
import { useFragment as unmask } from '../shared/gql/index.js';
import type { User } from './session.js';
import { errorMessage } from '../shared/errors.js';
import { Avatar } from './presence-list.js';
import { EmbedLink } from './embed-link.js';
import {
  describeMembershipEnd,
  expiryFrom,
  localDateTimeValue,
  refreshInterval,
  type ExpiryChoice,
  type ExpiryPreset,
} from './expiry.js';
import { ExpiryPicker, useNow } from './expiry-picker.js';

// The ends a membership can be given (rule SC2); never: it lasts until removed.
const MEMBERSHIP_PRESETS: readonly ExpiryPreset[] = ['never', '1d', '7d', '30d', 'custom'];
const NEVER: ExpiryChoice = { preset: 'never', custom: '' };

/** Where changing a member's end starts: their current end, or a week for one who has none. */
const changeFrom = (expiresAt: string | null): ExpiryChoice =>
  expiresAt ? { preset: 'custom', custom: localDateTimeValue(new Date(expiresAt)) } : { preset: '7d', custom: '' };

export function ShareDialog(props: {
  dashboardId: string;
  role: string;
  me: User;
  onClose(): void;
  onChanged(): void;
}) {
  const [{ data }, refetch] = useQuery({ query: DashboardQuery, variables: { id: props.dashboardId } });
  const [, invite] = useMutation(InviteCollaboratorDocument);
  const [, updateRole] = useMutation(UpdateCollaboratorRoleDocument);
  const [, remove] = useMutation(RemoveCollaboratorDocument);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('EDITOR');
  const [expiry, setExpiry] = useState<ExpiryChoice>(NEVER);
  // userId of the collaborator whose end is being changed -> the choice being made
  const [editing, setEditing] = useState<{ userId: string; choice: ExpiryChoice } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isOwner = props.role === 'OWNER';
  const canEmbed = isOwner || props.role === 'EDITOR';
  const collaborators = unmask(CollaboratorFieldsFragmentDoc, data?.dashboard?.collaborators ?? []);
  // A membership that ends leaves the list when the dashboard's live stream says it changed
  // (the editor refetches this query on DashboardChanged); until then its end counts down.
  const ends = collaborators.map((c) => c.expiresAt ?? null);
  const now = useNow(refreshInterval(ends, new Date()));

  const done = (result: { error?: unknown }) => {
    if (result.error) setError(errorMessage(result.error));
    else setError(null);
    refetch({ requestPolicy: 'network-only' });
    props.onChanged();
    return !result.error;
  };

  const onInvite = async (event: FormEvent) => {
    event.preventDefault();
    const end = expiryFrom(expiry, new Date());
    if ('error' in end) return setError(end.error);
    const result = await invite({
      dashboardId: props.dashboardId,
      email: email.trim(),
      role,
      expiresAt: end.at?.toISOString() ?? null,
    });
    if (result.error?.graphQLErrors[0]?.extensions?.code === 'NOT_FOUND') {
      setError(`Nobody has signed up with ${email.trim()} yet. Ask them to create an account first.`);
      return;
    }
    if (done(result)) {
      setEmail('');
      setExpiry(NEVER);
    }
  };

  // Sets when a member's access ends, keeping their role (null: permanent).
  const setEnd = async (userId: string, currentRole: Role, choice: ExpiryChoice) => {
    const end = expiryFrom(choice, new Date());
    if ('error' in end) return setError(end.error);
    const result = await updateRole({
      dashboardId: props.dashboardId,
      userId,
      role: currentRole,
      expiresAt: end.at?.toISOString() ?? null,
    });
    if (done(result)) setEditing(null);
  };

  return (
    <div className="modal-backdrop" onClick={props.onClose}>
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label="Share dashboard"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.key === 'Escape' && props.onClose()}
        data-testid="share-dialog"
      >
        <div className="side-head">
          <h2>Share</h2>
          <button className="icon-btn" onClick={props.onClose} aria-label="Close" data-testid="close-share">
            ×
          </button>
        </div>
        {isOwner && (
          <form className="inline-form" onSubmit={onInvite}>
            <input
              type="email"
              required
              placeholder="colleague@example.com"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-label="Email to invite"
              data-testid="invite-email"
              autoFocus
            />
            <select
              value={role}
              onChange={(e) => setRole(e.target.value as Role)}
              aria-label="Role"
              data-testid="invite-role"
            >
              <option value="EDITOR">Can edit</option>
              <option value="VIEWER">Can view</option>
            </select>
            <button className="btn primary" type="submit" data-testid="invite-submit">
              Invite
            </button>
            <label className="check invite-expiry">
              Access expires
              <ExpiryPicker
                value={expiry}
                onChange={setExpiry}
                presets={MEMBERSHIP_PRESETS}
                label="Access expires"
                neverLabel="Never"
                testId="invite-expiry"
              />
            </label>
          </form>
        )}
        {error && (
          <p className="error" role="alert" data-testid="share-error">
            {error}
          </p>
        )}
        <ul className="people">
          {collaborators.map((c) => (
            <li
              key={c.user.id}
              data-testid="collaborator"
              data-email={c.user.email}
              data-expires-at={c.expiresAt ?? undefined}
            >
              <Avatar name={c.user.name} color={c.user.color} />
              <div className="person">
                <div>
                  {c.user.name}
                  {c.user.id === props.me.id && ' (you)'}
                </div>
                <div className="muted small">{c.user.email}</div>
                {c.role !== 'OWNER' && (
                  <div className={`small ${c.expiresAt ? 'expiring' : 'muted'}`} data-testid="collaborator-expiry">
                    {describeMembershipEnd(c.expiresAt ?? null, now)}
                    {isOwner && editing?.userId !== c.user.id && (
                      <>
                        {' '}
                        <button
                          className="btn link small"
                          onClick={() => setEditing({ userId: c.user.id, choice: changeFrom(c.expiresAt ?? null) })}
                          data-testid="change-expiry"
                        >
                          {c.expiresAt ? 'Change' : 'Set an end'}
                        </button>
                        {c.expiresAt && (
                          <button
                            className="btn link small"
                            onClick={() => void setEnd(c.user.id, c.role, NEVER)}
                            data-testid="make-permanent"
                          >
                            Make permanent
                          </button>
                        )}
                      </>
                    )}
                  </div>
                )}
              </div>
              {isOwner && c.role !== 'OWNER' ? (
                <>
                  <select
                    value={c.role}
                    aria-label={`Role of ${c.user.name}`}
                    onChange={async (e) =>
                      // expiresAt left out: the membership keeps its end.
                      done(
                        await updateRole({
                          dashboardId: props.dashboardId,
                          userId: c.user.id,
                          role: e.target.value as Role,
                        }),
                      )
                    }
                    data-testid="collaborator-role"
                  >
                    <option value="EDITOR">Can edit</option>
                    <option value="VIEWER">Can view</option>
                  </select>
                  <button
                    className="btn small danger"
                    onClick={async () => done(await remove({ dashboardId: props.dashboardId, userId: c.user.id }))}
                    data-testid="remove-collaborator"
                  >
                    Remove
                  </button>
                </>
              ) : (
                <span className={`role role-${c.role.toLowerCase()}`}>{c.role.toLowerCase()}</span>
              )}
              {isOwner && editing?.userId === c.user.id && (
                <form
                  className="inline-form expiry-edit"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void setEnd(c.user.id, c.role, editing.choice);
                  }}
                  data-testid="expiry-form"
                >
                  <ExpiryPicker
                    value={editing.choice}
                    onChange={(choice) => setEditing({ userId: c.user.id, choice })}
                    presets={MEMBERSHIP_PRESETS}
                    label={`Access of ${c.user.name} ends`}
                    neverLabel="Never (permanent)"
                    testId="collaborator-expiry-choice"
                  />
                  <button className="btn small primary" type="submit" data-testid="save-expiry">
                    Save
                  </button>
                  <button className="btn small" type="button" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </form>
              )}
            </li>
          ))}
        </ul>
        {canEmbed && <EmbedLink dashboardId={props.dashboardId} />}
      </div>
    </div>
  );
}
