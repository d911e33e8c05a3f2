/** Structured JSON logs (pino). Secrets never reach a log line: see `redact`. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
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
  });
}
