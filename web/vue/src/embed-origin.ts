/**
 * Which windows may hand the viewer a token by postMessage (rule EM2): its own origin and the
 * server's EMBED_ORIGINS (GET /api/embed-config), nobody else. Pure, so it is unit-tested
 * without a browser.
 */

/** What a parent posts to the frame. */
export interface ViewerParams {
  dashboardId: string;
  token: string;
}

/** What the viewer answers a sender it refuses. */
export interface ViewerErrorMessage {
  type: 'collab-viewer-error';
  code: 'ORIGIN_NOT_ALLOWED';
  message: string;
}

/** Whether a message from `origin` may configure a viewer served at `own`. `*` allows any. */
export function isAllowedOrigin(origin: string, own: string, allowed: readonly string[]): boolean {
  // Opaque origins (sandboxed frames, file:) are "null": never trusted.
  if (!origin || origin === 'null') return false;
  return origin === own || allowed.includes('*') || allowed.includes(origin);
}

/** The `{ type: 'collab-viewer', dashboardId, token }` message, or null for anything else. */
export function parseViewerMessage(data: unknown): ViewerParams | null {
  const d = data as { type?: unknown; dashboardId?: unknown; token?: unknown } | null;
  if (d?.type !== 'collab-viewer' || typeof d.dashboardId !== 'string' || typeof d.token !== 'string') return null;
  if (d.dashboardId === '' || d.token === '') return null;
  return { dashboardId: d.dashboardId, token: d.token };
}

/** The allow-list from a GET /api/embed-config body; none when it is malformed. */
export function embedOrigins(body: unknown): string[] {
  const origins = (body as { origins?: unknown } | null)?.origins;
  return Array.isArray(origins) ? origins.filter((o): o is string => typeof o === 'string') : [];
}

export function refusal(origin: string): ViewerErrorMessage {
  return {
    type: 'collab-viewer-error',
    code: 'ORIGIN_NOT_ALLOWED',
    message: `This viewer does not accept messages from ${origin}: add it to the server's EMBED_ORIGINS.`,
  };
}
