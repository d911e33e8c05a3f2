import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useClient, useMutation, useQuery } from 'urql';
import type { DashboardDocument } from '../../core/src/index.js';
import { CreateCheckpointDocument, DocumentAtDocument, HistoryDocument, type HistoryQuery } from './gql/graphql.js';
import type { CollabSession } from './collab-session.js';
import { errorMessage } from './errors.js';
import { useToast } from './toast.js';
import { Canvas } from './canvas.js';

const PAGE = 50;

type HistoryOp = NonNullable<HistoryQuery['dashboard']>['operations'][number];

/** One line of the history: an undo step of one client (rule UN2), or a single op. */
export interface HistoryEntry {
  /** The newest op of the entry: what Preview and Restore act on. */
  newest: HistoryOp;
  /** How many ops it stands for. */
  count: number;
  /** The oldest version in it. */
  oldest: number;
}

/**
 * Groups history ops, newest first, into entries: ops of one client in one undo step
 * (a typing run) make one entry, even when other people's ops fall between them.
 */
export function groupHistory(ops: readonly HistoryOp[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const byStep = new Map<string, HistoryEntry>();
  for (const op of [...ops].sort((a, b) => b.version - a.version)) {
    const key = op.kind === 'EDIT' && op.undoGroup !== null ? `${op.clientId}\u0000${op.undoGroup}` : null;
    const entry = key ? byStep.get(key) : undefined;
    if (entry) {
      entry.count++;
      entry.oldest = op.version;
      continue;
    }
    const created = { newest: op, count: 1, oldest: op.version };
    entries.push(created);
    if (key) byStep.set(key, created);
  }
  return entries;
}

/** What an entry says it did: the kind of op first, then what the op touched. */
export function describeEntry(entry: HistoryEntry): string {
  const { newest, count } = entry;
  switch (newest.kind) {
    case 'RESTORE':
      return newest.refVersion === null ? 'Restored an earlier version' : `Restored version ${newest.refVersion}`;
    case 'UNDO':
      return newest.op === null ? 'Undo (nothing left to change)' : 'Undid a change';
    case 'REDO':
      return 'Redid a change';
    case 'RENAME':
      return 'Renamed the dashboard';
    case 'LAYOUT':
      return 'Moved widgets apart (they overlapped)';
  }
  const what = describeOp(newest.op);
  return count > 1 ? `${what} (${count} edits)` : what;
}

/** A short description of an ot-json1 op, for the history list. */
export function describeOp(op: unknown): string {
  if (op === null) return 'No change (absorbed by a concurrent edit)';
  const json = JSON.stringify(op);
  if (json.includes('"es"')) return 'Edited note text';
  if (/"i":\{"id"/.test(json)) return 'Added a widget';
  if (/^\[?\[?"layout"/.test(json) && json.includes('"r"') && json.includes('"widgets"')) return 'Removed a widget';
  if (json.includes('"config"')) return 'Changed widget settings';
  if (/"(x|y)",\{"r"/.test(json) || /"(x|y)"/.test(json)) {
    if (/"(w|h)"/.test(json)) return 'Moved and resized a widget';
    return 'Moved a widget';
  }
  if (/"(w|h)"/.test(json)) return 'Resized a widget';
  if (json.includes('"title"')) return 'Renamed';
  if (json.includes('"layout"')) return 'Reordered widgets';
  return 'Edited the dashboard';
}

export function HistoryPanel(props: {
  dashboardId: string;
  collab: CollabSession;
  readOnly: boolean;
  onClose(): void;
}) {
  const { dashboardId, collab } = props;
  const client = useClient();
  // The newest page follows the dashboard; older pages are fetched on demand, back to v1.
  const [from, setFrom] = useState(() => Math.max(0, collab.engine.version - PAGE));
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
        const next = Math.max(0, collab.engine.version - PAGE);
        setFrom((current) => {
          if (next === current) refetch({ requestPolicy: 'network-only' });
          return next;
        });
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
