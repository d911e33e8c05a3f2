import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient, useMutation, useQuery } from 'urql';
import type { DashboardDocument } from '@collab-dashboards/core';
import { CreateCheckpointDocument, DocumentAtDocument, HistoryDocument } from '../shared/gql/graphql.js';
import { describeEntry, groupHistory, type HistoryOp } from './history-entries.js';
import type { CollabSession } from '../shared/collab-session.js';
import { errorMessage } from '../shared/errors.js';
import { useToast } from './toast.js';
import { Canvas } from './canvas.js';
import type { LiveContext } from '../shared/live-binding.js';

const PAGE = 50;

export function HistoryPanel(props: {
  dashboardId: string;
  collab: CollabSession;
  readOnly: boolean;
  /** For the preview's bound widgets. */
  live?: LiveContext | null;
  onClose(): void;
}) {
  const { dashboardId, collab } = props;
  const client = useClient();
  // The newest page follows the dashboard; older pages are fetched on demand, back to v1.
  const [from, setFrom] = useState(() => Math.max(0, collab.engine.version - PAGE));
  const fromRef = useRef(from);
  fromRef.current = from;
  const [{ data, fetching, error }, refetch] = useQuery({
    query: HistoryDocument,
    variables: { id: dashboardId, fromVersion: from, limit: PAGE },
    requestPolicy: 'network-only',
  });
  const [older, setOlder] = useState<HistoryOp[]>([]);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [, createCheckpoint] = useMutation(CreateCheckpointDocument);
  const [name, setName] = useState('');
  const [preview, setPreview] = useState<number | null>(null);
  const toast = useToast();

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = collab.onEvent((event) => {
      if (event.__typename === 'CheckpointCreated') refetch({ requestPolicy: 'network-only' });
      if (event.__typename !== 'OperationApplied' || timer) return;
      // New ops: move the newest page along (at most once a second while people type).
      timer = setTimeout(() => {
        timer = undefined;
        // A new `from` makes the query fetch again by itself; the same one needs asking.
        const next = Math.max(0, collab.engine.version - PAGE);
        if (next === fromRef.current) refetch({ requestPolicy: 'network-only' });
        else setFrom(next);
      }, 1000);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [collab, refetch]);

  const newestPage = data?.dashboard?.operations ?? [];
  const all = [...older.filter((op) => op.version <= from), ...newestPage];
  const oldestLoaded = all.length > 0 ? Math.min(...all.map((op) => op.version)) : from + 1;
  const loadOlder = useCallback(async () => {
    const upTo = oldestLoaded - 1; // every version up to this one is still to load
    if (upTo < 1) return;
    const start = Math.max(0, upTo - PAGE);
    setLoadingOlder(true);
    const result = await client
      .query(
        HistoryDocument,
        { id: dashboardId, fromVersion: start, limit: upTo - start },
        { requestPolicy: 'network-only' },
      )
      .toPromise();
    setLoadingOlder(false);
    if (result.error) return toast(errorMessage(result.error));
    const page = result.data?.dashboard?.operations ?? [];
    setOlder((current) => [...page, ...current.filter((op) => !page.some((p) => p.version === op.version))]);
  }, [client, dashboardId, oldestLoaded, toast]);

  const restore = (version: number) => {
    if (!window.confirm(`Restore the dashboard to version ${version}? Everyone will see the change.`)) return;
    // This tab's own change: undoable with Undo like any edit (rule UN1).
    collab.restore(version);
    setPreview(null);
  };
  const onCheckpoint = async (event: FormEvent) => {
    event.preventDefault();
    const result = await createCheckpoint({
      dashboardId,
      name: name.trim() || `Checkpoint ${new Date().toLocaleString()}`,
    });
    if (result.error) return toast(errorMessage(result.error));
    setName('');
    refetch({ requestPolicy: 'network-only' });
  };

  const entries = groupHistory(all);
  const checkpoints = [...(data?.dashboard?.checkpoints ?? [])].reverse();
  return (
    <aside className="side-panel history" aria-label="Version history" data-testid="history-panel">
      <div className="side-head">
        <h2>History</h2>
        <button className="icon-btn" onClick={props.onClose} aria-label="Close history">
          ×
        </button>
      </div>
      {!props.readOnly && (
        <form className="inline-form" onSubmit={onCheckpoint}>
          <input
            placeholder="Checkpoint name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-label="Checkpoint name"
            data-testid="checkpoint-name"
          />
          <button className="btn" type="submit" data-testid="create-checkpoint">
            Save
          </button>
        </form>
      )}
      {error && <p className="error">{errorMessage(error)}</p>}
      {fetching && !data && <p className="muted">Loading…</p>}
      {checkpoints.length > 0 && (
        <>
          <h3>Checkpoints</h3>
          <ul className="history-list">
            {checkpoints.map((c) => (
              <li key={c.id} data-testid="checkpoint">
                <div>
                  <strong>{c.name}</strong>
                  <div className="muted small">
                    v{c.version} · {c.createdBy.name}
                  </div>
                </div>
                <Actions version={c.version} readOnly={props.readOnly} onPreview={setPreview} onRestore={restore} />
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Changes</h3>
      <ul className="history-list">
        {entries.map(({ newest: op, count, oldest }) => (
          <li
            key={op.version}
            data-testid="history-entry"
            data-version={op.version}
            data-kind={op.kind}
            data-count={count}
          >
            <span className="dot" style={{ background: op.author.color }} />
            <div>
              <div>{describeEntry({ newest: op, count, oldest })}</div>
              <div className="muted small">
                {count > 1 ? `v${oldest}–v${op.version}` : `v${op.version}`} · {op.author.name} ·{' '}
                {new Date(op.createdAt).toLocaleTimeString()}
              </div>
            </div>
            <Actions version={op.version} readOnly={props.readOnly} onPreview={setPreview} onRestore={restore} />
          </li>
        ))}
        {data && entries.length === 0 && <li className="muted">No changes yet.</li>}
      </ul>
      {data && oldestLoaded > 1 && (
        <button className="btn small" onClick={loadOlder} disabled={loadingOlder} data-testid="history-older">
          {loadingOlder ? 'Loading…' : 'Older changes'}
        </button>
      )}
      {preview !== null && (
        <Preview
          dashboardId={dashboardId}
          version={preview}
          readOnly={props.readOnly}
          live={props.live}
          onClose={() => setPreview(null)}
          onRestore={restore}
        />
      )}
    </aside>
  );
}

function Actions(props: {
  version: number;
  readOnly: boolean;
  onPreview(v: number): void;
  onRestore(v: number): void;
}) {
  return (
    <div className="row-actions">
      <button className="btn small" onClick={() => props.onPreview(props.version)} data-testid="preview-version">
        Preview
      </button>
      {!props.readOnly && (
        <button className="btn small" onClick={() => props.onRestore(props.version)} data-testid="restore-version">
          Restore
        </button>
      )}
    </div>
  );
}

function Preview(props: {
  dashboardId: string;
  version: number;
  readOnly: boolean;
  live?: LiveContext | null;
  onClose(): void;
  onRestore(v: number): void;
}) {
  const [{ data, error }] = useQuery({
    query: DocumentAtDocument,
    variables: { id: props.dashboardId, version: props.version },
  });
  const doc = data?.dashboard?.documentAt as DashboardDocument | undefined;
  const { onClose } = props;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop" onClick={props.onClose}>
      <div
        className="modal wide"
        role="dialog"
        aria-modal="true"
        aria-label={`Version ${props.version}`}
        onClick={(e) => e.stopPropagation()}
        data-testid="history-preview"
      >
        <div className="side-head">
          <h2>
            Version {props.version} <span className="badge">read-only preview</span>
          </h2>
          <div className="row-actions">
            {!props.readOnly && (
              <button className="btn primary" onClick={() => props.onRestore(props.version)}>
                Restore this version
              </button>
            )}
            <button className="icon-btn" onClick={props.onClose} aria-label="Close preview">
              ×
            </button>
          </div>
        </div>
        {error && <p className="error">{errorMessage(error)}</p>}
        {doc && (
          <Canvas
            collab={null}
            doc={doc}
            readOnly
            live={props.live}
            selected={null}
            onSelect={() => {}}
            onSubmit={() => {}}
            testId="preview-canvas"
          />
        )}
      </div>
    </div>
  );
}
