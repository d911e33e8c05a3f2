import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  CreateDashboardDocument,
  DashboardSummaryFragmentDoc,
  DashboardsDocument,
  DeleteDashboardDocument,
  RenameDashboardDocument,
} from '../shared/gql/graphql.js';
import { useFragment as unmask } from '../shared/gql/index.js';
import { errorMessage } from '../shared/errors.js';
import { useToast } from './toast.js';

export function DashboardList() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: DashboardsDocument });
  const [, create] = useMutation(CreateDashboardDocument);
  const [title, setTitle] = useState('');
  const toast = useToast();
  const dashboards = unmask(DashboardSummaryFragmentDoc, data?.dashboards ?? []);

  const onCreate = async (event: FormEvent) => {
    event.preventDefault();
    const result = await create({ title: title.trim() || 'Untitled dashboard' });
    if (result.error) return toast(errorMessage(result.error));
    setTitle('');
    const created = unmask(DashboardSummaryFragmentDoc, result.data!.createDashboard);
    window.location.hash = `#/d/${created.id}`;
  };

  return (
    <main className="page">
      <div className="page-head">
        <h1>Your dashboards</h1>
        <form className="inline-form" onSubmit={onCreate}>
          <input
            placeholder="New dashboard title"
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            aria-label="New dashboard title"
            data-testid="new-dashboard-title"
          />
          <button className="btn primary" type="submit" data-testid="create-dashboard">
            Create
          </button>
        </form>
      </div>
      {error && (
        <p className="error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      {fetching && !data && <p className="muted">Loading…</p>}
      {data && dashboards.length === 0 && (
        <div className="empty card">
          <p>No dashboards yet. Create one above, or ask a teammate to share theirs.</p>
        </div>
      )}
      <ul className="dash-grid" data-testid="dashboard-list">
        {dashboards.map((d) => (
          <DashboardCard
            key={d.id}
            id={d.id}
            title={d.title}
            role={d.myRole}
            updatedAt={d.updatedAt}
            onChanged={() => refetch({ requestPolicy: 'network-only' })}
          />
        ))}
      </ul>
    </main>
  );
}

function DashboardCard(props: { id: string; title: string; role: string; updatedAt: string; onChanged(): void }) {
  const [, rename] = useMutation(RenameDashboardDocument);
  const [, remove] = useMutation(DeleteDashboardDocument);
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(props.title);
  const toast = useToast();

  const onRename = async (event: FormEvent) => {
    event.preventDefault();
    setEditing(false);
    if (title.trim() === props.title || !title.trim()) return;
    const result = await rename({ id: props.id, title: title.trim() });
    if (result.error) toast(errorMessage(result.error));
    props.onChanged();
  };
  const onDelete = async () => {
    if (!window.confirm(`Delete "${props.title}" for everyone? This cannot be undone.`)) return;
    const result = await remove({ id: props.id });
    if (result.error) toast(errorMessage(result.error));
    props.onChanged();
  };

  return (
    <li className="card dash-card" data-testid="dashboard-card" data-title={props.title}>
      {editing ? (
        <form onSubmit={onRename} className="inline-form">
          <input
            autoFocus
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            onBlur={onRename}
            aria-label="Dashboard title"
            data-testid="rename-input"
          />
        </form>
      ) : (
        <a className="dash-link" href={`#/d/${props.id}`} data-testid="open-dashboard">
          {props.title}
        </a>
      )}
      <div className="dash-meta">
        <span className={`role role-${props.role.toLowerCase()}`}>{props.role.toLowerCase()}</span>
        <span className="muted">updated {new Date(props.updatedAt).toLocaleString()}</span>
      </div>
      <div className="dash-actions">
        {props.role !== 'VIEWER' && (
          <button className="btn small" onClick={() => setEditing(true)} data-testid="rename-dashboard">
            Rename
          </button>
        )}
        {props.role === 'OWNER' && (
          <button className="btn small danger" onClick={onDelete} data-testid="delete-dashboard">
            Delete
          </button>
        )}
      </div>
    </li>
  );
}
