/**
 * How a lean subscription's `next` frames reach the socket (SUB1 fan-out, api/SPEC.md "Live
 * events"): written straight to the socket, coalesced per socket until the event loop's next
 * turn; a peer that leaves more than WS_MAX_BUFFERED_BYTES unread from earlier turns gets half
 * a keep-alive interval to drain, then its subscriptions end (PR1: it leaves presence) and it
 * is closed with 1013 (slow consumer, retryable: it resumes from its last version).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { CloseCode } from '@collab-dashboards/core';
import type { Config } from '../config.js';
import type { Connection } from './ws-connection.js';

/**
 * The sender of one subscription's `next` payloads on `conn`'s socket, over its TCP socket
 * `tcp`; `next` writes one frame (false: the subscription is over). What it returns is what
 * SharedExecution.stream waits on: false (or a promise of false) stops the stream.
 */
export function nextFrameWriter(
  config: Pick<Config, 'wsMaxBufferedBytes' | 'keepAliveMs'>,
  socket: WebSocket,
  tcp: Socket,
  conn: Connection,
  next: (json: string) => boolean,
): (json: string) => boolean | Promise<boolean> {
  // Frames are coalesced until the event loop's next turn (setImmediate: after the I/O
  // callbacks of this turn), so a group commit, or the cursor moves of many requests read in
  // one turn, cost one syscall per socket, not one per frame.
  const send = (json: string) => {
    if (!conn.corked) {
      conn.corked = true;
      tcp.cork();
      setImmediate(() => {
        conn.corked = false;
        tcp.uncork();
      });
    }
    return next(json);
  };
  return (json) => {
    if (conn.corked) return next(json);
    // What earlier turns queued and the peer has not read yet (this turn's own burst,
    // e.g. a catch-up page, does not count): wait for it to drain, a while.
    if (socket.bufferedAmount > config.wsMaxBufferedBytes) {
      return drained(tcp, config.keepAliveMs / 2).then((ok) => {
        if (ok) return send(json);
        cutSlowConsumer(socket, conn);
        return false;
      });
    }
    return send(json);
  };
}

/** Resolves true once `tcp` has written out its queue, false after `ms` (half a ping interval). */
function drained(tcp: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      tcp.off('drain', onDrain);
      tcp.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    tcp.once('drain', onDrain);
    tcp.once('close', onClose);
  });
}

/**
 * A peer that does not drain its socket is closed with 1013 (retryable: it reconnects and
 * resumes from its last version) rather than buffered without bound. Its subscriptions end
 * at once (presence leaves), and the socket is cut if the close handshake does not finish.
 */
function cutSlowConsumer(socket: WebSocket, conn: Connection) {
  for (const subscription of [...conn.subscriptions.values()]) subscription.cancel();
  socket.close(CloseCode.TryAgainLater, 'Slow consumer: reconnect and resume from your last version');
  setTimeout(() => socket.terminate(), 1000).unref();
}
