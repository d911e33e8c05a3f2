/**
 * The live series chart in the Vue viewer: a thin shell over the framework-free chart
 * (web/shared/series-chart.ts), which draws with uPlot, with the props of the React editor's
 * <SeriesChart>. Pass a new `data` list for new points: the chart is updated when the list
 * (or the window's ends) change, not when a list is mutated in place.
 */
import { defineComponent, h, onBeforeUnmount, onMounted, ref, watch, type PropType } from 'vue';
import type { ChartKind } from '@collab-dashboards/core';
import 'uplot/dist/uPlot.min.css';
import { createSeriesChart, type SeriesChart as Chart } from '../../shared/series-chart.js';
import type { SeriesData, TimeWindow } from '../../shared/series-data.js';

export const SeriesChart = defineComponent({
  name: 'SeriesChart',
  props: {
    data: { type: Array as PropType<readonly SeriesData[]>, required: true },
    window: { type: Object as PropType<TimeWindow>, required: true },
    kind: { type: String as PropType<ChartKind>, default: 'line' },
    unit: { type: String as PropType<string | null>, default: null },
    /** IANA zone of the time axis; the viewer's own by default. */
    timeZone: { type: String, default: undefined },
    locale: { type: String, default: undefined },
  },
  setup(props) {
    const host = ref<HTMLElement | null>(null);
    let chart: Chart | null = null;

    const create = () => {
      chart?.destroy();
      chart = createSeriesChart(host.value!, {
        kind: props.kind,
        unit: props.unit,
        timeZone: props.timeZone,
        locale: props.locale,
      });
      chart.setData(props.data, props.window);
    };
    onMounted(create);
    onBeforeUnmount(() => {
      chart?.destroy();
      chart = null;
    });

    watch(() => [props.timeZone, props.locale], create);
    watch(
      () => props.kind,
      (kind) => chart?.setKind(kind),
    );
    watch(
      () => props.unit,
      (unit) => chart?.setUnit(unit),
    );
    watch(
      () => [props.data, props.window.from, props.window.to, props.window.step],
      () => chart?.setData(props.data, props.window),
    );

    return () => h('div', { ref: host, class: 'series-chart-host', 'data-testid': 'series-chart' });
  },
});
