/** When to refresh an access token: a minute before it expires, or at 80% of a short life. */
export function refreshDelay(expiresAt: string | number, now: number): number {
  const expiry = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  if (!Number.isFinite(expiry)) return 0;
  const remaining = expiry - now;
  if (remaining <= 0) return 0;
  return Math.max(0, remaining - Math.min(60_000, remaining / 5));
}

/** True when a token expiring at `expiresAt` should be refreshed before it is used. */
export function isExpiring(expiresAt: string | number, now: number, marginMs = 5_000): boolean {
  const expiry = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  return !Number.isFinite(expiry) || expiry - now <= marginMs;
}
