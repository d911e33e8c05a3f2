/**
 * A metric, chart or table of the viewer bound to live data (DESIGN.md 10, LD4, LD5): the
 * series or the data source query its `config.source` names, read over the viewer's one socket (live-binding.ts) and drawn
 * from the shared view models (live-widget-view.ts, series-chart.ts) with the markup of a
 * hand-typed widget (widget-body.ts), as the React editor draws it (web/src/live-widgets.tsx).
 * The config keeps the rest of the tile's look: a chart's kind, the unit, a metric's label
 * and lowerIsBetter.
 */
import {
  computed,
  defineComponent,
  h,
  onBeforeUnmount,
  onMounted,
  ref,
  shallowRef,
  watch,
  type PropType,
  type VNode,
} from 'vue';
import type { ChartKind, Widget } from '@collab-dashboards/core';
import type { LiveSeriesState } from '../../shared/live-series.js';
import {
  LOADING_TEXT,
  SPARKLINE_BOX,
  liveDataAttributes,
  liveMetricView,
  liveTableView,
  nothingToDraw,
} from '../../shared/live-widget-view.js';
import { NO_SERIES_TEXT } from '../../shared/series-chart.js';
import { createLiveBinding, liveSourceOf, loadingState, type LiveContext } from '../../shared/live-binding.js';
import { SeriesChart } from './series-chart.js';
import { metricBody, tableBody } from './widget-body.js';
import '../../shared/live-widgets.css';

const CHART_KINDS: readonly ChartKind[] = ['line', 'bar', 'area'];

type Config = Record<string, unknown>;

function unitOf(config: Config): string | null {
  return typeof config.unit === 'string' && config.unit !== '' ? config.unit : null;
}

function kindOf(config: Config): ChartKind {
  return CHART_KINDS.includes(config.kind as ChartKind) ? (config.kind as ChartKind) : 'line';
}

/**
 * The body of a bound widget (liveSourceOf(widget) is not null): `data-testid="live-<type>"`
 * with `data-state` loading, live or error, `data-points` (points drawn) and `data-last`
 * (newest value), and the state's error under it as muted text; over it a banner while its
 * data source cannot be queried (`data-testid="live-source-error"`, the last data kept).
 * Its width fits the step: resizing may reopen the series at another step, and a new
 * source (a collaborator rebinding the widget) reopens it; unmounting closes it.
 */
export const LiveWidgetBody = defineComponent({
  name: 'LiveWidgetBody',
  props: {
    widget: { type: Object as PropType<Widget>, required: true },
    live: { type: Object as PropType<LiveContext>, required: true },
  },
  setup(props) {
    const host = ref<HTMLElement | null>(null);
    // Content width in whole pixels; 0 until measured. A hidden widget (width 0) keeps its
    // last width, so its series is not torn down while it is out of sight.
    const width = ref(0);
    const state = shallowRef<LiveSeriesState>(loadingState());
    const binding = createLiveBinding(props.live, (next) => (state.value = next));
    const source = computed(() => liveSourceOf(props.widget));
    // An equal source parsed from a new config, or a width of the same step, changes nothing.
    watch([source, width], ([next, px]) => binding.update(next, px));

    let observer: ResizeObserver | null = null;
    onMounted(() => {
      observer = new ResizeObserver(([entry]) => {
        const next = Math.round(entry!.contentRect.width);
        if (next > 0) width.value = next;
      });
      observer.observe(host.value!);
    });
    onBeforeUnmount(() => {
      observer?.disconnect();
      binding.close();
    });

    return () => {
      const s = state.value;
      const { type, config } = props.widget;
      // Nothing to draw but the error or the banner: an empty chart or "No series match" would mislead.
      const failed = nothingToDraw(s);
      let body: VNode | null = null;
      if (s.status === 'loading') body = h('p', { class: 'muted' }, LOADING_TEXT);
      else if (!failed) {
        if (type === 'chart') body = liveChart(s, config);
        else if (type === 'metric') body = liveMetric(s, config);
        else body = liveTable(s, config);
      }
      return h(
        'div',
        {
          ref: host,
          class: `live-widget live-${type}`,
          'data-testid': `live-${type}`,
          'data-state': s.status,
          ...liveDataAttributes(s),
        },
        [
          s.sourceError
            ? h(
                'p',
                { class: 'live-banner', role: 'status', title: s.sourceError, 'data-testid': 'live-source-error' },
                s.sourceError,
              )
            : null,
          body,
          s.error
            ? h(
                'p',
                { class: 'muted live-error', role: 'status', 'data-testid': 'live-error', title: s.error },
                s.error,
              )
            : null,
        ],
      );
    };
  },
});

function liveChart(state: LiveSeriesState, config: Config) {
  return h(SeriesChart, { data: state.data, window: state.window, kind: kindOf(config), unit: unitOf(config) });
}

function liveMetric(state: LiveSeriesState, config: Config) {
  const view = liveMetricView(config, state);
  if (view.placeholder) {
    return h('div', { class: 'metric', 'data-testid': 'metric' }, [
      h('p', { class: 'muted metric-placeholder', 'data-testid': 'metric-placeholder' }, view.placeholder),
    ]);
  }
  return metricBody(
    view.metric,
    h(
      'svg',
      {
        class: 'sparkline',
        'data-testid': 'sparkline',
        viewBox: `0 0 ${SPARKLINE_BOX.width} ${SPARKLINE_BOX.height}`,
        preserveAspectRatio: 'none',
        'aria-hidden': 'true',
      },
      [h('path', { d: view.sparkline })],
    ),
  );
}

function liveTable(state: LiveSeriesState, config: Config) {
  if (state.data.length === 0) return h('p', { class: 'muted' }, NO_SERIES_TEXT);
  return tableBody(liveTableView(state, { unit: unitOf(config) }));
}
