/**
 * Socket authentication and caps.
 * - AU1: `connection_init { authToken }` authenticates the socket. A missing or bad token
 *   closes it with 4401; a database failure while authenticating closes it with 1013, which
 *   clients retry; an access token closes its socket with 4401 when it expires (by the
 *   injected clock). API tokens never expire: a revocation, heard on the `user:<id>` topic on
 *   every instance and re-checked after a bus gap (SUB2), closes their sockets with 4401.
 * - Caps (4429, RATE_LIMITED): at most MAX_SOCKETS_PER_USER open sockets per socket budget,
 *   over every instance when Redis is configured (services.limits.sockets), and
 *   MAX_SUBSCRIPTIONS_PER_SOCKET * 4 subscription starts a minute per socket budget on this
 *   instance (a socket lives on one instance).
 * Every close for an error takes its code from `closeCodeFor`.
 */
import { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { ErrorLog } from '../error-log.js';
import type { Viewer } from '../services/auth-service.js';
import type { Services } from '../services/services.js';
import { DomainError, unauthenticated } from '../errors.js';
import { closeCodeFor } from './close-codes.js';
import type { Connection } from './ws-connection.js';

/**
 * Whose socket budget (MAX_SOCKETS_PER_USER) a socket spends: its user's, but an embed
 * link's sockets (wall screens showing it) have one of their own per dashboard, so a busy
 * embed never locks its maker out of the editor (rule EM3).
 */
export function socketBudget(viewer: Viewer): string {
  return viewer.via === 'embed' ? `embed:${viewer.userId}:${viewer.embedDashboardId}` : viewer.userId;
}

/** Closes `socket` with the close code and reason `error` maps to (close-codes.ts). */
export function closeFor(socket: WebSocket, error: unknown) {
  const { code, reason } = closeCodeFor(error);
  socket.close(code, reason);
}

/** The errors an operation refused by a cap fails with. */
export const tooMany = (message: string) => [
  new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', retryAfter: 60 } }),
];

export type SocketGate = ReturnType<typeof createSocketGate>;

/** Admits sockets (AU1 and the socket cap), watches their tokens, and counts subscription starts. */
export function createSocketGate(deps: { services: Services; logger: Logger; logError: ErrorLog }) {
  const { services, logger, logError } = deps;
  const config = services.config;

  // API tokens never expire, so a revocation must reach the sockets they opened, on every
  // instance: userId -> { sockets by apiTokenId, the bus subscription }.
  const apiSockets = new Map<
    string,
    { byToken: Map<string, Set<WebSocket>>; unsubscribe: Promise<() => Promise<void>> }
  >();

  function watchApiToken(userId: string, tokenId: string, socket: WebSocket) {
    let entry = apiSockets.get(userId);
    if (!entry) {
      const byToken = new Map<string, Set<WebSocket>>();
      const unsubscribe = services.bus.subscribe(`user:${userId}`, (message) => {
        if (message.type !== 'api-token-revoked') return;
        for (const s of byToken.get(message.tokenId) ?? []) closeFor(s, unauthenticated('API token revoked'));
      });
      // A revocation published before the subscription was confirmed would be missed.
      unsubscribe.then(
        () => void recheckApiTokens(userId),
        (error) => logger.warn({ err: error }, 'user topic subscribe failed'),
      );
      entry = { byToken, unsubscribe };
      apiSockets.set(userId, entry);
    }
    let sockets = entry.byToken.get(tokenId);
    if (!sockets) entry.byToken.set(tokenId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) entry.byToken.delete(tokenId);
      if (entry.byToken.size === 0) {
        apiSockets.delete(userId);
        entry.unsubscribe.then((stop) => stop()).catch(() => {});
      }
    });
  }

  const socketsByUser = new Map<string, number>(); // socketBudget -> open sockets on this instance
  const sockets = services.limits.sockets;
  const subscribeTimes = new Map<string, number[]>(); // socketBudget -> recent subscription starts (ms)

  /** At most MAX_SUBSCRIPTIONS_PER_SOCKET * 4 new subscriptions a minute per socket budget. */
  function allowSubscriptionStart(budget: string): boolean {
    const now = Date.now();
    const recent = (subscribeTimes.get(budget) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= config.rateLimits.subscriptionsPerSocket * 4) return false;
    recent.push(now);
    subscribeTimes.set(budget, recent);
    return true;
  }

  /** Closes sockets whose API token is no longer live (after a bus gap, SUB2). */
  async function recheckApiTokens(userId: string) {
    const entry = apiSockets.get(userId);
    if (!entry) return;
    try {
      const live = new Set((await services.store.listApiTokens(userId)).map((t) => t.id));
      for (const [tokenId, sockets] of entry.byToken) {
        if (live.has(tokenId)) continue;
        for (const s of sockets) closeFor(s, unauthenticated('API token revoked'));
      }
    } catch (error) {
      logger.warn({ err: error }, 'API token re-check failed');
    }
  }
  const stopRecheckOnReconnect = services.bus.onReconnect(() => {
    for (const userId of apiSockets.keys()) void recheckApiTokens(userId);
  });

  /**
   * connection_init: authenticates `conn` by its authToken, counts it in its socket budget,
   * watches its API token and arms its expiry. False (the socket closed or closing) refuses it.
   */
  async function admit(
    conn: Connection,
    socket: WebSocket,
    connectionParams: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    const token = connectionParams?.authToken;
    if (typeof token !== 'string' || token === '') {
      closeFor(socket, unauthenticated('connection_init needs an authToken'));
      return false;
    }
    try {
      conn.viewer = await services.auth.authenticate(token, conn.ip);
    } catch (error) {
      // A bad token is final (4401); a database failure is retryable (1013), as over HTTP.
      logError(error, { connectionId: conn.id }, 'connection_init refused');
      closeFor(socket, error);
      return false;
    }
    // The socket may have closed while we authenticated: count and watch nothing then.
    if (socket.readyState !== socket.OPEN) return false;
    const budget = socketBudget(conn.viewer);
    if (!(await sockets.admit(budget, conn.id, config.rateLimits.socketsPerUser))) {
      closeFor(socket, new DomainError('RATE_LIMITED', 'Too many connections for this user'));
      return false;
    }
    // It may have closed while it was counted: give its place back, nothing else to undo.
    if (socket.readyState !== socket.OPEN) {
      sockets.release(budget, conn.id);
      return false;
    }
    socketsByUser.set(budget, (socketsByUser.get(budget) ?? 0) + 1);
    conn.counted = true;
    if (conn.viewer.apiTokenId) watchApiToken(conn.viewer.userId, conn.viewer.apiTokenId, socket);
    const expiresAt = conn.viewer.expiresAt;
    if (expiresAt && socket.readyState === socket.OPEN) {
      // AU1: close at expiry, not at the next message. setTimeout caps at ~24.8 days.
      // Measured with the clock the token was minted and verified with.
      const ms = Math.min(Math.max(0, expiresAt.getTime() - services.clock.now().getTime()), 2 ** 31 - 1);
      conn.expiryTimer = setTimeout(() => closeFor(socket, unauthenticated('Token expired')), ms);
      conn.expiryTimer.unref();
    }
    logger.debug({ connectionId: conn.id, userId: conn.viewer.userId }, 'socket connected');
    return true;
  }

  /** A socket closed: disarms its expiry and gives its place in its socket budget back. */
  function release(conn: Connection | undefined) {
    if (conn?.expiryTimer) clearTimeout(conn.expiryTimer);
    if (conn?.counted && conn.viewer) {
      const budget = socketBudget(conn.viewer);
      sockets.release(budget, conn.id);
      const left = (socketsByUser.get(budget) ?? 1) - 1;
      if (left > 0) socketsByUser.set(budget, left);
      else {
        socketsByUser.delete(budget);
        subscribeTimes.delete(budget);
      }
    }
  }

  return { admit, release, allowSubscriptionStart, stop: stopRecheckOnReconnect };
}
