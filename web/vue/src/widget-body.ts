/**
 * A widget's body in the viewer: the shared view model (web/shared/widget-view.ts) as Vue
 * vnodes, with the same markup, classes and test ids as the React editor's widget-body.tsx.
 */
import { h, type VNodeChild } from 'vue';
import type { MetricView } from '../../shared/metric-format.js';
import type { ChartView, TableView, WidgetView } from '../../shared/widget-view.js';

/** A widget's body, drawn from the view model the React editor draws from too. */
export function widgetBody(view: WidgetView) {
  switch (view.type) {
    case 'note':
      return h('div', { class: 'note-static', 'data-testid': 'note-text' }, view.text);
    case 'metric':
      return metricBody(view.metric);
    case 'chart':
      return chartBody(view.chart);
    case 'table':
      return tableBody(view.table);
    case 'unsupported':
      return h('p', { class: 'muted' }, view.message);
  }
}

/**
 * A metric tile; `extra` (a live sparkline) goes under the figures. Compact figures for the
 * eye, the exact ones for tooltips and screen readers; the delta's meaning is spelled out,
 * not left to its colour.
 */
export function metricBody(view: MetricView, extra: VNodeChild = null) {
  const { delta } = view;
  return h('div', { class: 'metric', 'data-testid': 'metric' }, [
    h('div', { class: 'metric-value', title: view.fullText }, [
      h('span', { 'aria-hidden': 'true', 'data-testid': 'metric-value' }, view.value),
      h('span', { class: 'sr-only' }, view.fullValue),
      view.unit ? h('span', { class: 'metric-unit' }, view.unit) : null,
    ]),
    view.label || delta
      ? h('div', { class: 'metric-foot' }, [
          view.label ? h('span', { class: 'metric-label' }, view.label) : null,
          delta
            ? h(
                'span',
                {
                  class: `metric-delta ${delta.direction} ${delta.tone}`,
                  title: delta.full,
                  'data-testid': 'metric-delta',
                  'data-tone': delta.tone,
                },
                [h('span', { 'aria-hidden': 'true' }, delta.text), h('span', { class: 'sr-only' }, delta.spoken)],
              )
            : null,
        ])
      : null,
    extra,
  ]);
}

/** A chart drawn from a hand-typed config, as an inline SVG. */
export function chartBody(view: ChartView) {
  if (view.placeholder) return h('p', { class: 'muted' }, view.placeholder);
  return h('div', { class: 'chart', 'data-testid': 'chart', 'data-kind': view.kind }, [
    h(
      'svg',
      { viewBox: view.viewBox, preserveAspectRatio: 'none', role: 'img', 'aria-label': view.label },
      view.series.map((s) =>
        h('g', { key: s.name }, [
          s.area ? h('path', { d: s.area.path, fill: s.color, opacity: s.area.opacity }) : null,
          h('path', {
            d: s.path,
            fill: s.paint.fill,
            stroke: s.paint.stroke,
            'stroke-width': s.paint.strokeWidth,
            'vector-effect': 'non-scaling-stroke',
          }),
        ]),
      ),
    ),
    h(
      'div',
      { class: 'legend' },
      view.legend.map((entry) =>
        h('span', { key: entry.name }, [h('i', { style: { background: entry.color } }), ` ${entry.name}`]),
      ),
    ),
  ]);
}

/** A table of text cells (a hand-typed config, or one row per live series). */
export function tableBody(view: TableView) {
  return h('div', { class: 'table-wrap', 'data-testid': 'table' }, [
    h('table', [
      h('thead', [
        h(
          'tr',
          view.columns.map((column) => h('th', column)),
        ),
      ]),
      h(
        'tbody',
        view.rows.map((row) =>
          h(
            'tr',
            row.map((cell) => h('td', cell)),
          ),
        ),
      ),
    ]),
  ]);
}
