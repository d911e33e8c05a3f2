/**
 * The "Data" section of a metric, chart or table's settings (DESIGN.md 10, LD4, LD5): pick one
 * of the dashboard's series (searched on the server, over urql like the editor's other lists),
 * its window and aggregation, or, when the server has data sources configured, a query on one
 * of them (query-editor.tsx); or unbind. Each choice is one `set('source', ...)`: one op,
 * undoable and in the history like any other edit; collaborators see the widget rebind.
 */
import { useId, useState } from 'react';
import { useQuery } from 'urql';
import type { Widget } from '@collab-dashboards/core';
import { DatasourcesDocument, SeriesSearchDocument, type Aggregation } from '../shared/gql/graphql.js';
import { AGGREGATIONS, WINDOW_CHOICES, describeSource, parseSource } from '../shared/live-series.js';
import { errorMessage } from '../shared/errors.js';
import { QueryEditor } from './query-editor.js';
import {
  AGGREGATION_LABELS,
  bindName,
  bindSeries,
  isBoundTo,
  isBoundToName,
  pickerRows,
  matchesSearch,
  pushHint,
  seriesOptionView,
  windowChoices,
  withSourceField,
  type PickerSeries,
} from './source-edit.js';
import { TitleInput } from './title-input.js';
import { useDebounced } from './use-debounced.js';

/** How many series the list shows; a search narrows the rest down. */
const LIST_SIZE = 100;
const SEARCH_DELAY_MS = 250;

type SourceKind = 'series' | 'query';

export function SourcePicker(props: { dashboardId: string; widget: Widget; set(key: string, value: unknown): void }) {
  const { dashboardId, widget, set } = props;
  const raw = widget.config.source;
  const source = parseSource(widget.config);
  const headingId = useId();
  const kindName = useId();
  // The data sources the server may query (LD5): none configured, no choice to offer.
  const [{ data: configured }] = useQuery({ query: DatasourcesDocument });
  const datasources = configured?.datasources ?? [];
  // Which half is shown follows the bound source when it changes (undo, a collaborator).
  const boundKind: SourceKind = source?.kind ?? 'series';
  const [kind, setKind] = useState<SourceKind>(boundKind);
  const [kindFor, setKindFor] = useState(boundKind);
  if (kindFor !== boundKind) {
    setKindFor(boundKind);
    setKind(boundKind);
  }
  const showQuery = kind === 'query' && datasources.length > 0;
  const boundSeries = source?.kind === 'series' ? source : null;
  const [search, setSearch] = useState('');
  const searched = useDebounced(search.trim(), SEARCH_DELAY_MS);
  // Mounting (the panel opening) reads the list again: new series may have been pushed.
  const [{ data, error, fetching }, refresh] = useQuery({
    query: SeriesSearchDocument,
    variables: { dashboardId, first: LIST_SIZE, search: searched || null },
    requestPolicy: 'cache-and-network',
  });
  // The last list that arrived, shown (narrowed as the user types) until the next one does.
  const [list, setList] = useState<{ search: string; series: PickerSeries[] } | null>(null);
  const arrived = data?.dashboard?.series;
  if (arrived && (list?.series !== arrived || list.search !== searched)) setList({ search: searched, series: arrived });
  const shown = (list?.series ?? []).filter((series) => matchesSearch(series, search));
  const empty = list !== null && list.search === '' && list.series.length === 0;

  const commit = (value: unknown) => {
    if (value !== null) set('source', value);
  };

  return (
    <section className="data-section" aria-labelledby={headingId} data-testid="data-section">
      <div className="data-head">
        <h3 id={headingId}>Data</h3>
        {!showQuery && (
          <button
            type="button"
            className="btn small"
            onClick={() => refresh({ requestPolicy: 'network-only' })}
            disabled={fetching}
            data-testid="source-refresh"
          >
            Refresh
          </button>
        )}
      </div>
      <p className="muted small" data-testid="source-status">
        {source ? (
          <>
            Live from <code>{describeSource(source)}</code>
            {source.kind === 'query' && <> on {source.datasource}</>}
          </>
        ) : datasources.length > 0 ? (
          'Pick a series or query a data source to draw live data instead of typed values.'
        ) : (
          'Pick a series to draw its live data instead of typed values.'
        )}
      </p>
      {datasources.length > 0 && (
        <div className="source-kind" role="radiogroup" aria-label="Data from">
          {(
            [
              ['series', 'Stored series'],
              ['query', 'Data source query'],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className="check">
              <input
                type="radio"
                name={kindName}
                value={value}
                checked={kind === value}
                onChange={() => setKind(value)}
                data-testid={`source-kind-${value}`}
              />
              {label}
            </label>
          ))}
        </div>
      )}
      {showQuery ? (
        <QueryEditor dashboardId={dashboardId} widget={widget} datasources={datasources} set={set} />
      ) : empty ? (
        <PushHint dashboardId={dashboardId} />
      ) : (
        <>
          <label>
            Search series
            <input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="Name or label"
              data-testid="source-search"
            />
          </label>
          {error && <p className="error small">{errorMessage(error)}</p>}
          {list === null && !error && <p className="muted small">Loading series…</p>}
          {list !== null && shown.length === 0 && (
            <p className="muted small" data-testid="source-no-match">
              No series match “{search.trim()}”.
            </p>
          )}
          {shown.length > 0 && (
            <ul className="series-options" aria-label="Series" data-testid="series-options">
              {pickerRows(shown).map((row) => {
                if (row.kind === 'name') {
                  const bound = isBoundToName(source, row.name);
                  return (
                    <li key={`name:${row.name}`}>
                      <button
                        type="button"
                        className={`series-option every ${bound ? 'bound' : ''}`}
                        aria-pressed={bound}
                        onClick={() => commit(bindName(raw, row.name))}
                        data-testid="series-option-all"
                        data-series={row.name}
                      >
                        <span className="series-option-name">{row.name}</span>
                        <span className="series-option-labels">every series ({row.count})</span>
                      </button>
                    </li>
                  );
                }
                const { series } = row;
                const view = seriesOptionView(series);
                const bound = isBoundTo(source, series);
                return (
                  <li key={series.id}>
                    <button
                      type="button"
                      className={`series-option ${bound ? 'bound' : ''}`}
                      aria-pressed={bound}
                      onClick={() => commit(bindSeries(raw, series))}
                      data-testid="series-option"
                      data-series={series.name}
                    >
                      <span className="series-option-name">{view.name}</span>
                      {view.labels && <span className="series-option-labels">{view.labels}</span>}
                      <span className="series-option-last" title={view.lastTitle ?? 'No points yet'}>
                        {view.last ?? '–'}
                      </span>
                    </button>
                  </li>
                );
              })}
            </ul>
          )}
          {list !== null && list.series.length >= LIST_SIZE && (
            <p className="muted small">Showing the first {LIST_SIZE}; search to find others.</p>
          )}
        </>
      )}
      {!showQuery && (
        <div className="data-fields">
          <label>
            Window
            <select
              value={boundSeries?.window ?? ''}
              disabled={!boundSeries}
              onChange={(e) => commit(withSourceField(raw, 'window', Number(e.target.value)))}
              data-testid="source-window"
            >
              {!boundSeries && <option value="">–</option>}
              {(boundSeries ? windowChoices(boundSeries.window) : WINDOW_CHOICES).map((choice) => (
                <option key={choice.seconds} value={choice.seconds}>
                  {choice.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Aggregation
            <select
              value={boundSeries?.agg ?? ''}
              disabled={!boundSeries}
              onChange={(e) => commit(withSourceField(raw, 'agg', e.target.value as Aggregation))}
              data-testid="source-agg"
            >
              {!boundSeries && <option value="">–</option>}
              {AGGREGATIONS.map((agg) => (
                <option key={agg} value={agg}>
                  {AGGREGATION_LABELS[agg]}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {source && widget.type !== 'metric' && (
        <label>
          Unit
          <TitleInput
            value={typeof widget.config.unit === 'string' ? widget.config.unit : ''}
            label="Data unit"
            onCommit={(unit) => set('unit', unit || undefined)}
            testId="source-unit"
          />
        </label>
      )}
      <button
        type="button"
        className="btn"
        disabled={!source && raw === undefined}
        onClick={() => set('source', undefined)}
        data-testid="source-unbind"
      >
        Unbind
      </button>
    </section>
  );
}

function PushHint({ dashboardId }: { dashboardId: string }) {
  const hint = pushHint(dashboardId);
  return (
    <div className="muted small" data-testid="source-empty">
      <p>This dashboard has no series yet. Push points to it with an API token, then pick one here:</p>
      <pre className="push-hint">
        {hint.request}
        {'\n'}
        {hint.auth}
        {'\n\n'}
        {hint.body}
      </pre>
    </div>
  );
}
