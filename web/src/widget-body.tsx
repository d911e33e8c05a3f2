import type { DashboardDocument, JSONOp, Widget } from '@collab-dashboards/core';
import type { CollabSession } from '../shared/collab-session.js';
import { widgetView } from '../shared/widget-view.js';
import { LiveWidgetBody } from './live-widgets.js';
import { NoteEditor } from './note-editor.js';
import { liveSourceOf, type LiveContext } from '../shared/live-binding.js';
import { ChartView, MetricView, TableView } from './widget-parts.js';

/** The widget types a `config.source` can bind to live data (LD4). */

/**
 * A widget's body, drawn from the shared view model (web/shared/widget-view.ts); a note is
 * edited in place. A metric, chart or table whose config has a source draws its live data
 * instead (live-widgets.tsx), when a socket to read it over is at hand (`live`).
 */
export function WidgetBody(props: {
  widget: Widget;
  collab: CollabSession | null;
  readOnly: boolean;
  doc: DashboardDocument;
  live?: LiveContext | null;
  onSubmit(op: JSONOp): void;
}) {
  const { widget } = props;
  const source = liveSourceOf(widget);
  if (source) return <LiveWidgetBody widget={widget} source={source} live={props.live ?? null} />;
  const view = widgetView(widget);
  switch (view.type) {
    case 'note':
      return props.collab ? (
        <NoteEditor widget={widget} collab={props.collab} readOnly={props.readOnly} onSubmit={props.onSubmit} />
      ) : (
        <div className="note-static">{view.text}</div>
      );
    case 'metric':
      return <MetricView view={view.metric} />;
    case 'chart':
      return <ChartView chart={view.chart} />;
    case 'table':
      return <TableView table={view.table} />;
    case 'unsupported':
      return <p className="muted">{view.message}</p>;
  }
}
