/** Structured JSON logs (pino). Secrets never reach a log line: see `redact`. */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** A JSON logger to stdout, or to `destination` (tests). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dashboards-api' },
      redact: {
        paths: [
          '*.authorization',
          '*.authToken',
          '*.password',
          '*.accessToken',
          '*.refreshToken',
          '*.token',
          'req.headers.authorization',
          'req.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
