import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import type { DashboardDocument } from '../../core/src/index.js';
import { CreateCheckpointDocument, DocumentAtDocument, HistoryDocument } from './gql/graphql.js';
import type { CollabSession } from './collab-session.js';
import { errorMessage } from './errors.js';
import { useToast } from './toast.js';
import { Canvas } from './canvas.js';

const PAGE = 50;

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
  const [from] = useState(() => Math.max(0, collab.engine.version - PAGE));
  const [{ data, fetching, error }, refetch] = useQuery({
    query: HistoryDocument,
    variables: { id: dashboardId, fromVersion: from, limit: PAGE },
    requestPolicy: 'network-only',
  });
  const [, createCheckpoint] = useMutation(CreateCheckpointDocument);
  const [name, setName] = useState('');
  const [preview, setPreview] = useState<number | null>(null);
  const toast = useToast();

  useEffect(
    () =>
      collab.onEvent((event) => {
        if (event.__typename === 'CheckpointCreated') refetch({ requestPolicy: 'network-only' });
      }),
    [collab, refetch],
  );

  const restore = async (version: number) => {
    if (!window.confirm(`Restore the dashboard to version ${version}? Everyone will see the change.`)) return;
    try {
      await collab.restore(version);
      setPreview(null);
      refetch({ requestPolicy: 'network-only' });
    } catch (e) {
      toast(errorMessage(e));
    }
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

  const ops = [...(data?.dashboard?.operations ?? [])].reverse();
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
        {ops.map((op) => (
          <li key={op.version} data-testid="history-entry" data-version={op.version}>
            <span className="dot" style={{ background: op.author.color }} />
            <div>
              <div>{describeOp(op.op)}</div>
              <div className="muted small">
                v{op.version} · {op.author.name} · {new Date(op.createdAt).toLocaleTimeString()}
              </div>
            </div>
            <Actions version={op.version} readOnly={props.readOnly} onPreview={setPreview} onRestore={restore} />
          </li>
        ))}
        {data && ops.length === 0 && <li className="muted">No changes yet.</li>}
      </ul>
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
