/**
 * The data source half of the "Data" section (DESIGN.md 10, LD5): pick a configured data
 * source, type a PromQL expression with the upstream's metric names offered as completions
 * (an ARIA combobox: arrows move, Enter or a click chooses), a window and a step. Applying
 * runs the query once (queryData): an expression the upstream refuses is shown here with its
 * own message and binds nothing; anything else binds with one `set('source', ...)`, one op,
 * undoable like any edit. Window and step are part of the draft, checked and applied with the
 * expression: a change of one field never applies (or throws away) what was typed in another.
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useClient, useQuery } from 'urql';
import type { Widget } from '@collab-dashboards/core';
import { DatasourceMetricNamesDocument, QueryDataDocument } from '../shared/gql/graphql.js';
import { errorCode } from '../shared/errors.js';
import { queryErrorMessage } from '../shared/live-query.js';
import { parseSource, sourceKey } from '../shared/live-series.js';
import {
  applyCompletion,
  bindQuery,
  checkRange,
  completionsFor,
  draftOf,
  draftProblem,
  nameAt,
  queryLabel,
  rangeLabel,
  rebaseDraft,
  sameQuery,
  stepChoices,
  type Completion,
  type QueryDraft,
} from './query-edit.js';
import { windowChoices } from './source-edit.js';
import { useDebounced } from './use-debounced.js';

const COMPLETION_DELAY_MS = 250;
/** Metric names asked for per search; the list narrows as the user types on. */
const NAMES_FIRST = 200;

/** What the last apply said; `bound`: the sourceKey it bound, said only while that is bound. */
type Outcome = { kind: 'error' | 'warning' | 'ok'; text: string; bound?: string } | null;

export function QueryEditor(props: {
  dashboardId: string;
  widget: Widget;
  datasources: ReadonlyArray<{ name: string; type: string }>;
  set(key: string, value: unknown): void;
}) {
  const { dashboardId, widget, datasources } = props;
  const raw = widget.config.source;
  const source = parseSource(widget.config);
  const bound = source?.kind === 'query' ? source : null;
  const names = datasources.map((d) => d.name);
  const client = useClient();
  const ids = { datasource: useId(), expr: useId(), list: useId(), unapplied: useId() };

  // The draft is edited over what is bound (its base). When that changes (an apply, undo, a
  // collaborator), the fields left as they were follow it; those changed and not applied stay.
  const key = sourceKey(bound);
  const base = draftOf(source, names);
  const [draft, setDraft] = useState<QueryDraft>(base);
  const [draftBase, setDraftBase] = useState<QueryDraft>(base);
  if (JSON.stringify(draftBase) !== JSON.stringify(base)) {
    setDraftBase(base);
    setDraft((d) => rebaseDraft(d, draftBase, base));
  }
  const unapplied = bound !== null && !sameQuery(draft, base);
  // What is applied, and its answer; a later apply wins over an earlier one still running.
  const [outcome, setOutcome] = useState<Outcome>(null);
  const edit = (patch: Partial<QueryDraft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setOutcome(null);
  };

  const [applying, setApplying] = useState(false);
  const applied = useRef(0);
  // The latest props, for an answer that arrives after a re-render (another op, a rebind).
  const latest = useRef({ raw, set: props.set });
  useEffect(() => {
    latest.current = { raw, set: props.set };
  });
  useEffect(
    () => () => {
      applied.current++;
    },
    [],
  );

  // ---- completions ----
  const input = useRef<HTMLInputElement>(null);
  const [caret, setCaret] = useState(0);
  const [focused, setFocused] = useState(false);
  const [dismissed, setDismissed] = useState(false);
  const [active, setActive] = useState(0);
  const token = nameAt(draft.expr, caret);
  const word = token?.word ?? '';
  const searched = useDebounced(word, COMPLETION_DELAY_MS);
  const [{ data: namesData, error: namesError }] = useQuery({
    query: DatasourceMetricNamesDocument,
    variables: { datasource: draft.datasource, search: searched, first: NAMES_FIRST },
    pause: searched === '' || draft.datasource === '',
  });
  // The last names that arrived, kept while the next search is on its way.
  const [fetched, setFetched] = useState<readonly string[]>([]);
  const arrived = namesData?.datasource?.name === draft.datasource ? namesData.datasource.metricNames : undefined;
  if (arrived && arrived !== fetched) setFetched(arrived);
  // The server searched for an earlier word (still on its way): narrowed to the one typed.
  const options: Completion[] = token ? completionsFor(word, fetched) : [];
  const open = focused && !dismissed && options.length > 0;
  const activeIndex = Math.min(active, options.length - 1);

  function moveCaret(next: number) {
    setCaret(next);
    setDismissed(false);
    setActive(0);
  }

  function choose(completion: Completion) {
    if (!token) return;
    const next = applyCompletion(draft.expr, token, completion);
    edit({ expr: next.expr });
    setCaret(next.caret);
    setDismissed(true);
    requestAnimationFrame(() => input.current?.setSelectionRange(next.caret, next.caret));
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (!open) {
        if (options.length > 0) setDismissed(false);
        return;
      }
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((activeIndex + step + options.length) % options.length);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (open) choose(options[activeIndex]!);
      else void apply();
    } else if (event.key === 'Tab' && open) {
      event.preventDefault();
      choose(options[activeIndex]!);
    } else if (event.key === 'Escape' && open) {
      event.preventDefault();
      event.stopPropagation();
      setDismissed(true);
    }
  }

  // ---- apply ----
  async function apply() {
    const problem = draftProblem(draft);
    if (problem) return setOutcome({ kind: 'error', text: problem });
    const attempt = ++applied.current;
    const chosen = { ...draft, expr: draft.expr.trim() };
    setApplying(true);
    setOutcome(null);
    const range = checkRange(chosen, Date.now());
    const result = await client
      .query(
        QueryDataDocument,
        { dashboardId, datasource: chosen.datasource, expr: chosen.expr, ...range },
        { requestPolicy: 'network-only' },
      )
      .toPromise();
    if (attempt !== applied.current) return;
    setApplying(false);
    const code = result.error ? errorCode(result.error) : undefined;
    // Refused (bad PromQL, an unknown source) or not run at all (offline, no access): not bound.
    if (result.error && code !== 'UNAVAILABLE') {
      return setOutcome({ kind: 'error', text: queryErrorMessage(result.error) });
    }
    const next = bindQuery(latest.current.raw, chosen);
    if (next) latest.current.set('source', next);
    const boundKey = sourceKey(parseSource({ source: next ?? latest.current.raw }));
    if (result.error) {
      // The expression may be fine: bound, and the widget draws it once the upstream answers.
      const text = `Bound, but not checked: ${queryErrorMessage(result.error)}`;
      return setOutcome({ kind: 'warning', text, bound: boundKey });
    }
    const count = result.data?.dashboard?.queryData.length ?? 0;
    setOutcome({
      kind: 'ok',
      text: count === 0 ? 'Bound. No series match it now.' : `Bound: ${count} series.`,
      bound: boundKey,
    });
  }

  const known = names.includes(draft.datasource);
  return (
    <div className="query-editor" data-testid="query-editor">
      <label htmlFor={ids.datasource}>Data source</label>
      <select
        id={ids.datasource}
        value={draft.datasource}
        onChange={(e) => edit({ datasource: e.target.value })}
        data-testid="query-datasource"
      >
        {!known && <option value={draft.datasource}>{draft.datasource || '–'} (not configured)</option>}
        {datasources.map((d) => (
          <option key={d.name} value={d.name}>
            {d.name} ({d.type})
          </option>
        ))}
      </select>
      <label htmlFor={ids.expr}>PromQL expression</label>
      <div className="query-combobox">
        <input
          ref={input}
          id={ids.expr}
          type="text"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls={ids.list}
          aria-activedescendant={open ? `${ids.list}-${activeIndex}` : undefined}
          autoComplete="off"
          spellCheck={false}
          placeholder="rate(http_requests_total[5m])"
          value={draft.expr}
          onChange={(e) => {
            edit({ expr: e.target.value });
            moveCaret(e.target.selectionStart ?? e.target.value.length);
          }}
          onSelect={(e) => {
            const at = e.currentTarget.selectionStart ?? 0;
            if (at !== caret) moveCaret(at);
          }}
          onFocus={() => setFocused(true)}
          onBlur={() => setFocused(false)}
          onKeyDown={onKeyDown}
          data-testid="query-expr"
        />
        <ul
          className="query-completions"
          role="listbox"
          id={ids.list}
          aria-label="Completions"
          hidden={!open}
          data-testid="query-completions"
        >
          {open &&
            options.map((option, i) => (
              <li
                key={`${option.kind}:${option.value}`}
                id={`${ids.list}-${i}`}
                role="option"
                aria-selected={i === activeIndex}
                className={i === activeIndex ? 'active' : undefined}
                // Chosen before the input's blur closes the list.
                onMouseDown={(e) => {
                  e.preventDefault();
                  choose(option);
                }}
                data-testid="query-completion"
                data-value={option.value}
              >
                <span className="query-completion-name">{option.value}</span>
                <span className="query-completion-kind">{option.kind}</span>
              </li>
            ))}
        </ul>
      </div>
      {namesError && focused && word !== '' && (
        <p className="muted small">Metric names unavailable: {queryErrorMessage(namesError)}</p>
      )}
      <div className="data-fields">
        <label>
          Window
          <select
            value={draft.window}
            onChange={(e) => edit({ window: Number(e.target.value) })}
            data-testid="query-window"
          >
            {windowChoices(draft.window).map((choice) => (
              <option key={choice.seconds} value={choice.seconds}>
                {choice.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Step
          <select
            value={draft.step ?? ''}
            onChange={(e) => edit({ step: e.target.value === '' ? null : Number(e.target.value) })}
            data-testid="query-step"
          >
            {stepChoices(draft.step).map((choice) => (
              <option key={choice.seconds ?? 'auto'} value={choice.seconds ?? ''}>
                {choice.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {bound && unapplied && (
        <p className="query-unapplied small" id={ids.unapplied} data-testid="query-unapplied">
          Not applied yet: the widget still reads <code>{queryLabel(bound)}</code>, {rangeLabel(bound)}.
        </p>
      )}
      <div className="query-actions">
        <button
          type="button"
          className="btn primary"
          onClick={() => void apply()}
          disabled={applying}
          aria-describedby={unapplied ? ids.unapplied : undefined}
          data-testid="query-apply"
        >
          {applying ? 'Running…' : bound ? 'Apply' : 'Run and bind'}
        </button>
        {unapplied && !applying && (
          <button
            type="button"
            className="btn"
            onClick={() => {
              setDraft(base);
              setOutcome(null);
            }}
            data-testid="query-revert"
          >
            Revert
          </button>
        )}
      </div>
      {outcome && (outcome.bound === undefined || outcome.bound === key) && (
        <p
          className={outcome.kind === 'error' ? 'error small' : 'muted small'}
          role={outcome.kind === 'ok' ? 'status' : 'alert'}
          data-testid={outcome.kind === 'error' ? 'query-error' : 'query-result'}
          data-kind={outcome.kind}
        >
          {outcome.text}
        </p>
      )}
    </div>
  );
}
