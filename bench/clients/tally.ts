/**
 * What every kind of client socket in a clients.ts process shares: the sockets themselves
 * (bytes on the wire), delivered-message counts by type with one sample frame per type,
 * closes the server made, and the permessage-deflate offer. The figures the scenarios
 * read through `counts`.
 */
import WebSocket from 'ws';

/** Every socket this process opened, for bytes on the wire. */
const sockets = new Set<WebSocket>();
let deflateOffer = false;

/** A `ws` socket counted for bytes on the wire, offering permessage-deflate as last set. */
export class CountedWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(address, protocols, { perMessageDeflate: deflateOffer, ...options });
    sockets.add(this);
  }
}

export function setDeflateOffer(on: boolean) {
  deflateOffer = on;
}

export const tally = {
  messages: 0,
  /** __typename -> events received */
  byType: {} as Record<string, number>,
  /** __typename -> the first frame received of that type */
  samples: {} as Record<string, string>,
  /** Set while closeAll tears sockets down: those closes are ours, not the server's. */
  closing: false,
  /** Sockets the server (or the network) closed while we held them, by close code. */
  closed: 0,
  closeCodes: {} as Record<string, number>,
  lastClose: '',
  /** Bytes read by sockets already discarded. */
  closedBytes: 0,
};

/** Counts one delivered event of `type`; the first of each type (but errors) is kept as a sample. */
export function countEvent(type: string, frame: string | (() => string)) {
  tally.messages++;
  tally.byType[type] = (tally.byType[type] ?? 0) + 1;
  if (!tally.samples[type] && type !== 'error') tally.samples[type] = typeof frame === 'string' ? frame : frame();
}

/** Counts a close the server made (not one of ours during closeAll). */
export function countClose(code: number, reason: Buffer) {
  if (tally.closing) return;
  tally.closed++;
  tally.closeCodes[code] = (tally.closeCodes[code] ?? 0) + 1;
  tally.lastClose = `${code} ${String(reason)}`.slice(0, 200);
}

function wireBytes() {
  let total = tally.closedBytes;
  for (const s of sockets) total += (s as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0;
  return total;
}

export function counts() {
  return {
    messages: tally.messages,
    byType: tally.byType,
    bytes: wireBytes(),
    cpu: process.cpuUsage(),
    samples: tally.samples,
    closed: tally.closed,
    closeCodes: tally.closeCodes,
    lastClose: tally.lastClose,
    rss: process.memoryUsage.rss(),
  };
}

/** After every socket was closed: keeps their bytes, forgets them, and zeroes the counts (samples stay). */
export function resetTally() {
  tally.closedBytes = wireBytes();
  for (const s of sockets) s.terminate();
  sockets.clear();
  tally.messages = 0;
  for (const k of Object.keys(tally.byType)) delete tally.byType[k];
  tally.closed = 0;
  for (const k of Object.keys(tally.closeCodes)) delete tally.closeCodes[k];
  tally.lastClose = '';
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}
