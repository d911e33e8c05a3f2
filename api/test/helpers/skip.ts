/**
 * Suites that need something a run may not have (PostgreSQL, a redis-server binary, nginx):
 * always registered, and where it is missing skipped visibly, the reason in the suite's
 * name, so the report shows what did not run and why (never a console line to miss).
 */
export function describeWhen(available: boolean, reason: string) {
  return (name: string, body: () => void): void => {
    if (available) describe(name, body);
    else describe.skip(`${name} (skipped: ${reason})`, body);
  };
}

export const NEEDS_DATABASE_URL = 'needs DATABASE_URL; CI sets it in its second run';
export const NEEDS_REDIS_BINARY = 'needs a redis-server binary on PATH (apt-get install redis-server)';
