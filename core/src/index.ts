/**
 * core: the dashboard document model, typed op builders, presence transform and the
 * client sync engine, shared by the server and the browser clients. No DOM, no Node-only
 * APIs, no I/O. Internal helpers of the modules below are deliberately not re-exported.
 */
export {
  MAX_TEXT_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_WIDGETS,
  createDocument,
  newWidget,
  normalizeLayout,
  validateDocument,
  validateWidget,
  type ChartConfig,
  type ChartKind,
  type ChartSeries,
  type DashboardDocument,
  type MetricConfig,
  type TableConfig,
  type Widget,
  type WidgetType,
} from './document.js';
export {
  applyOp,
  checkOp,
  composeOps,
  invertOp,
  isNoop,
  jsonEqual,
  normalizeOp,
  transformOp,
  transformWithConflictInfo,
  type JSONOp,
  type JSONOpComponent,
  type JSONOpList,
  type JSONValue,
  type Key,
  type Path,
  type Side,
  type TextOp,
} from './ot.js';
export {
  addWidget,
  deleteText,
  editText,
  insertText,
  moveWidget,
  removeWidget,
  renameWidget,
  reorderWidget,
  resizeWidget,
  setTitle,
  setWidgetConfig,
  textDiff,
} from './ops.js';
export {
  MAX_SELECTED_WIDGETS,
  transformCursor,
  transformSelection,
  transformThrough,
  validateCursor,
  validateSelection,
  type CanvasPoint,
  type Cursor,
  type PresencePosition,
  type Selection,
  type TextCursor,
  type TextSelection,
} from './presence.js';
export {
  createSyncEngine,
  restoreSyncEngine,
  type InflightSubmission,
  type OperationAck,
  type RemoteOp,
  type RetryOptions,
  type Submission,
  type SyncEngine,
  type SyncEngineOptions,
  type SyncEngineState,
  type SyncErrorEvent,
  type SyncState,
  type SyncTransport,
  type Timers,
} from './sync-engine.js';
export { codePointLength, toCodePointOffset, toUtf16Index } from './text.js';
export { ApiError, createGraphQLTransport, request, type GraphQLSubscriber } from './graphql-transport.js';
