import { useState } from 'react';
import {
  accessEndedSentence,
  downloadableCopy,
  formatUnsavedTexts,
  type RevokeReason,
  type UnsavedWork,
} from '../shared/unsaved-work.js';

/**
 * Edits that could not be saved because access to the dashboard ended (unsaved-work.ts):
 * the changed texts, read-only, to copy or download, then discard. `ended`: access is gone
 * (a page of its own); otherwise the user was let back in and this sits over the dashboard,
 * the edits not applied: copying them back is the user's choice.
 */
export function UnsavedNotice({
  works,
  reason,
  ended,
  onDiscard,
}: {
  works: readonly UnsavedWork[];
  /** Why access ended, when known (else the records' own). */
  reason: RevokeReason | null;
  ended: boolean;
  onDiscard(): void;
}) {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const count = works.reduce((sum, work) => sum + work.count, 0);
  const texts = works.flatMap((work) => work.texts);
  const edits = `${count} ${count === 1 ? 'edit' : 'edits'}`;
  const why = reason ?? works.find((work) => work.reason)?.reason ?? null;
  const since = new Date(Math.min(...works.map((work) => work.endedAt))).toLocaleString();

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(formatUnsavedTexts(works));
      setCopied('copied');
    } catch {
      setCopied('failed'); // no clipboard here: the texts below can still be selected and copied
    }
  };
  const download = () => {
    const url = URL.createObjectURL(new Blob([downloadableCopy(works)], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `unsaved-${works[0]?.dashboardId ?? 'dashboard'}.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  };

  const body = (
    <>
      {ended ? (
        <p>
          <strong>{accessEndedSentence(why)}</strong> Your last {edits} could not be saved: the server never received{' '}
          {count === 1 ? 'it' : 'them'}. Copy what you need before you leave.
        </p>
      ) : (
        <p>
          <strong>
            {edits} from when your access ended ({since}) {count === 1 ? 'was' : 'were'} never saved.
          </strong>{' '}
          {count === 1 ? 'It was' : 'They were'} not applied to this dashboard. Copy what you need, then discard{' '}
          {count === 1 ? 'it' : 'them'}.
        </p>
      )}
      {texts.length > 0 ? (
        <ul className="unsaved-texts">
          {texts.map((text, i) => (
            <li key={i} data-testid="unsaved-text" data-widget-id={text.widgetId ?? ''}>
              <span className="muted">{text.label}</span>
              <pre>{text.text}</pre>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No text changed (layout or settings only): download a copy to see everything.</p>
      )}
      <div className="group" role="group" aria-label="Unsaved edits">
        {texts.length > 0 && (
          <button className="btn primary" onClick={() => void copy()} data-testid="copy-unsaved">
            Copy my unsaved text
          </button>
        )}
        <button className="btn" onClick={download} data-testid="download-unsaved">
          Download a copy
        </button>
        <button className="btn danger" onClick={onDiscard} data-testid="discard-unsaved">
          {ended ? 'Discard and leave' : 'Discard'}
        </button>
      </div>
      {copied !== 'idle' && (
        <p className="muted" role="status" data-testid="copy-result">
          {copied === 'copied' ? 'Copied to the clipboard.' : 'Could not use the clipboard: select the text above.'}
        </p>
      )}
    </>
  );

  return ended ? (
    <main className="page">
      <div className="card unsaved-notice" role="alert" data-testid="unsaved-notice" data-count={count}>
        {body}
      </div>
    </main>
  ) : (
    <div className="card unsaved-notice banner" role="alert" data-testid="unsaved-notice" data-count={count}>
      {body}
    </div>
  );
}
