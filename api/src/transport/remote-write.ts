/**
 * Prometheus remote write 1.0 (rule LD1): a snappy-compressed (block format) protobuf
 * `WriteRequest`. Decoding turns it into the same points GraphQL and REST push, so one
 * validation (domain/series.ts) judges them all. Only the fields remote write 1.0 defines
 * for samples are read; exemplars, native histograms and metadata are ignored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import protobuf from 'protobufjs';
import { uncompressSync } from 'snappy';
import { HTTP_STATUS_FOR_ERROR } from '@collab-dashboards/core';
import { DomainError } from '../errors.js';
import type { PointInput } from '../domain/series.js';

// From the remote write 1.0 specification (prometheus/prompb types.proto and remote.proto),
// reduced to what a sample needs.
const root = protobuf.parse(`
  syntax = "proto3";
  message WriteRequest { repeated TimeSeries timeseries = 1; }
  message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
  message Label { string name = 1; string value = 2; }
  message Sample { double value = 1; int64 timestamp = 2; }
`).root;
const WriteRequest = root.lookupType('WriteRequest');

interface DecodedWriteRequest {
  timeseries?: Array<{
    labels?: Array<{ name?: string; value?: string }>;
    samples?: Array<{ value?: number; timestamp?: number }>;
  }>;
}

/** Prometheus marks a series gone with this NaN (value.StaleNaN); it is skipped, not stored. */
const STALE_NAN_BITS = 0x7ff0000000000002n;
const bits = new DataView(new ArrayBuffer(8));

export function isStaleMarker(value: number): boolean {
  if (!Number.isNaN(value)) return false;
  bits.setFloat64(0, value);
  return bits.getBigUint64(0) === STALE_NAN_BITS;
}

export interface DecodedRemoteWrite {
  points: PointInput[];
  /** Staleness markers skipped. */
  stale: number;
}

/** The remote write body as points; BAD_USER_INPUT (HTTP 400, not retried) when corrupt. */
export function decodeRemoteWrite(body: Uint8Array): DecodedRemoteWrite {
  let raw: Buffer;
  try {
    raw = uncompressSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as Buffer;
  } catch {
    throw new DomainError('BAD_USER_INPUT', 'The body is not snappy-compressed (block format)', {
      reason: 'BAD_SNAPPY',
    });
  }
  let request: DecodedWriteRequest;
  try {
    request = WriteRequest.toObject(WriteRequest.decode(raw), { longs: Number, defaults: false });
  } catch {
    throw new DomainError('BAD_USER_INPUT', 'The body is not a remote write WriteRequest (protobuf)', {
      reason: 'BAD_PROTOBUF',
    });
  }
  const points: PointInput[] = [];
  let stale = 0;
  for (const series of request.timeseries ?? []) {
    let name: string | undefined;
    const labels: Record<string, string> = {};
    for (const label of series.labels ?? []) {
      if (label.name === '__name__') name = label.value ?? '';
      else labels[label.name ?? ''] = label.value ?? '';
    }
    for (const sample of series.samples ?? []) {
      const v = sample.value ?? 0;
      if (isStaleMarker(v)) {
        stale += 1;
        continue;
      }
      points.push({ series: name, labels, t: sample.timestamp ?? 0, v });
    }
  }
  return { points, stale };
}

/** HTTP status for a refusal, as Prometheus reads it: 4xx are not retried, 429 and 5xx are. */
const REMOTE_WRITE_STATUS: Record<string, number> = HTTP_STATUS_FOR_ERROR;

export interface RemoteWriteDeps {
  /** The user behind `Authorization: Bearer <token>`, authorized to push to the dashboard. */
  authorize(authorization: string | undefined, dashboardId: string): Promise<string>;
  push(userId: string, dashboardId: string, points: PointInput[]): Promise<unknown>;
  skipped(reason: 'stale' | 'non_finite', count: number): void;
  maxBodyBytes: number;
  onError(error: unknown): void;
}

const PATH = /^\/api\/dashboards\/([^/]+)\/prometheus\/write$/;

/**
 * POST /api/dashboards/{id}/prometheus/write (rule LD1): 204 when stored; errors as plain
 * text with the status Prometheus acts on (Retry-After with 429). Samples Prometheus cannot
 * do without are skipped, not refused: staleness markers, and NaN or infinite values (a
 * refusal would make Prometheus drop the whole batch, good samples with it).
 */
export async function handleRemoteWrite(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  deps: RemoteWriteDeps,
): Promise<boolean> {
  const match = PATH.exec(path);
  if (!match) return false;
  const reply = (status: number, message: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(message);
  };
  if (req.method !== 'POST') {
    reply(405, 'Use POST', { allow: 'POST' });
    return true;
  }
  try {
    const dashboardId = decodeURIComponent(match[1]!);
    const userId = await deps.authorize(req.headers.authorization, dashboardId);
    const body = await readRaw(req, deps.maxBodyBytes);
    const { points, stale } = decodeRemoteWrite(body);
    const finite = points.filter((p) => Number.isFinite(p.v));
    if (stale) deps.skipped('stale', stale);
    if (finite.length < points.length) deps.skipped('non_finite', points.length - finite.length);
    await deps.push(userId, dashboardId, finite);
    res.writeHead(204);
    res.end();
  } catch (error) {
    if (!(error instanceof DomainError)) {
      deps.onError(error);
      reply(500, 'Internal error');
    } else {
      const retryAfter = error.extensions.retryAfter;
      reply(
        REMOTE_WRITE_STATUS[error.code] ?? 500,
        error.message,
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
      );
    }
  }
  return true;
}

async function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DomainError('PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
