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
  const [error, setError] = useState<string | null>(null);
  const isOwner = props.role === 'OWNER';
  const canEmbed = isOwner || props.role === 'EDITOR';
  const collaborators = unmask(CollaboratorFieldsFragmentDoc, data?.dashboard?.collaborators ?? []);

  const done = (result: { error?: unknown }) => {
    if (result.error) setError(errorMessage(result.error));
    else setError(null);
    refetch({ requestPolicy: 'network-only' });
    props.onChanged();
    return !result.error;
  };

  const onInvite = async (event: FormEvent) => {
    event.preventDefault();
    const result = await invite({ dashboardId: props.dashboardId, email: email.trim(), role });
    if (result.error?.graphQLErrors[0]?.extensions?.code === 'NOT_FOUND') {
      setError(`Nobody has signed up with ${email.trim()} yet. Ask them to create an account first.`);
      return;
    }
    if (done(result)) setEmail('');
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
          </form>
        )}
        {error && (
          <p className="error" role="alert" data-testid="share-error">
            {error}
          </p>
        )}
        <ul className="people">
          {collaborators.map((c) => (
            <li key={c.user.id} data-testid="collaborator" data-email={c.user.email}>
              <Avatar name={c.user.name} color={c.user.color} />
              <div className="person">
                <div>
                  {c.user.name}
                  {c.user.id === props.me.id && ' (you)'}
                </div>
                <div className="muted small">{c.user.email}</div>
              </div>
              {isOwner && c.role !== 'OWNER' ? (
                <>
                  <select
                    value={c.role}
                    aria-label={`Role of ${c.user.name}`}
                    onChange={async (e) =>
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
            </li>
          ))}
        </ul>
        {canEmbed && <EmbedLink dashboardId={props.dashboardId} />}
      </div>
    </div>
  );
}
