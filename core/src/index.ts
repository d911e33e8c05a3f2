/**
 * core: the dashboard document model, typed op builders, presence transform, the client
 * sync engine and the protocol (protocol.ts), shared by the server and the browser clients.
 * No DOM, no Node-only APIs, no I/O. Internal helpers of the modules below are deliberately
 * not re-exported.
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
  boxesOverlap,
  findOverlaps,
  layoutChangesOp,
  pushDown,
  resolveOverlaps,
  type GridBox,
  type LayoutChanges,
} from './layout.js';
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
  CLOSE_CODE_FOR_ERROR,
  HTTP_STATUS_FOR_ERROR,
  CloseCode,
  ERROR_CODES,
  GRAPHQL_ERROR_CODES,
  REVOKE_REASONS,
  SEQ_REUSED,
  STREAM_FATAL,
  STREAM_RETRYABLE,
  SUBMIT_REJECTED,
  SUBMIT_RETRYABLE,
  isStreamFatal,
  isSubmitRejected,
  type ErrorCode,
  type GraphQLErrorCode,
  type RevokeReason,
  type ServerErrorCode,
} from './protocol.js';
export { createSyncEngine, restoreSyncEngine } from './sync-engine.js';
export type { InflightSubmission, Submission } from './sync-queue.js';
export type { RetryOptions, Timers } from './sync-retry.js';
export type { OperationAck, RemoteOp, RemoteOpKind, StreamHandlers, SyncTransport } from './sync-transport.js';
export type { SyncEngine, SyncEngineOptions, SyncEngineState, SyncErrorEvent, SyncState } from './sync-types.js';
export type { UndoStacks } from './sync-undo.js';
export { codePointLength, toCodePointOffset, toUtf16Index } from './text.js';
export { ApiError, createGraphQLTransport, request, type GraphQLSubscriber } from './graphql-transport.js';
