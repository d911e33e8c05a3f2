/**
 * Accounts and credentials: passwords (scrypt), JWT access tokens (jose, HS256), rotating
 * refresh tokens with reuse detection, and API tokens for integrators (DESIGN.md section 7).
 * Only hashes of refresh and API tokens are stored.
 */
import { createHash, createHmac, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { DomainError, badInput, unauthenticated } from '../errors.js';
import { checkName, checkPassword, checkTokenName, colorFor, normalizeEmail } from '../domain/validation.js';
import type { Clock } from '../ports/clock.js';
import type { AccountStore, ApiTokenRow, UserRow } from '../ports/account-store.js';
import { addressAllowed, type TokenScope } from '../domain/token-scope.js';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

/** scrypt parameters: N=2^15 costs ~32 MiB and ~60 ms per hash here. */
const KDF = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const API_TOKEN_PREFIX = 'dsh_';
/** A refresh token presented again this soon after its rotation gets the same successor. */
export const REFRESH_GRACE_MS = 10_000;

export interface AuthSession {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
  user: UserRow;
}

/** Who is calling, once a bearer token has been verified. */
export interface Viewer {
  userId: string;
  /**
   * 'access' tokens expire (AU1); API tokens live until revoked; 'embed' tokens expire and
   * read one dashboard as a VIEWER on behalf of the user who made them (rule EM1).
   */
  via: 'access' | 'api' | 'embed';
  /** When the credential stops being valid (access and embed tokens). */
  expiresAt: Date | null;
  apiTokenId: string | null;
  /** Embed tokens: the one dashboard they may read. */
  embedDashboardId?: string;
  /** Scoped API tokens (SC1): the dashboards and actions they may use. */
  scope?: TokenScope;
}

/** Embed tokens (EM1): 24 hours unless asked otherwise, at most 30 days. */
export const EMBED_TOKEN_TTL = { default: 24 * 3600, max: 30 * 24 * 3600 } as const;

export interface AuthService {
  signUp(email: string, name: string, password: string): Promise<AuthSession>;
  logIn(email: string, password: string): Promise<AuthSession>;
  refresh(refreshToken: string): Promise<AuthSession>;
  logOut(refreshToken: string): Promise<boolean>;
  /**
   * Verifies an access token or an API token. Throws UNAUTHENTICATED, also for a scoped API
   * token past its expiresAt or presented from outside its allowFrom (`ip`: the client
   * address as TRUST_PROXY decides; SC1).
   */
  authenticate(token: string, ip?: string | null): Promise<Viewer>;
  createApiToken(
    userId: string,
    name: string,
    scope?: TokenScope | null,
  ): Promise<{ token: string; apiToken: ApiTokenRow }>;
  listApiTokens(userId: string): Promise<ApiTokenRow[]>;
  revokeApiToken(userId: string, id: string): Promise<boolean>;
  /**
   * Signs a read-only token for one dashboard (EM1). The caller has checked that `userId` may
   * edit it; `ttlSeconds` outside 1..EMBED_TOKEN_TTL.max is BAD_USER_INPUT.
   */
  createEmbedToken(
    userId: string,
    dashboardId: string,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: Date }>;
  /** Issues a session for a user directly (benchmarks and tests seed through it). */
  issueSession(user: UserRow): Promise<AuthSession>;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, KDF);
  return `scrypt$${KDF.N}$${KDF.r}$${KDF.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: KDF.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

export function createAuthService(deps: {
  store: AccountStore;
  clock: Clock;
  secret: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  /** A scoped API token refused (expired, or from an address outside allowFrom): for the audit log. */
  onRefused?(refusal: { userId: string; tokenId: string; reason: string; ip: string | null }): void;
}): AuthService {
  const { store, clock } = deps;
  // Imported once: given raw bytes, jose would import the HMAC key on every sign and verify
  // (a quarter of an authenticated request's CPU).
  const key = new TextEncoder().encode(deps.secret);
  const keyImport = globalThis.crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  // A hash we compare against when the email is unknown, so logIn takes as long either way.
  const dummyHash = hashPassword(randomUUID());

  /**
   * A successor is derived from its predecessor with a keyed hash, so presenting the old
   * token again within the grace window yields the very same successor without storing any
   * token in clear.
   */
  const successorOf = (refreshToken: string) =>
    createHmac('sha256', key).update(`refresh:${refreshToken}`).digest('base64url');

  async function accessToken(userId: string): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(clock.now().getTime() / 1000);
    const exp = now + deps.accessTokenTtl;
    const token = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await keyImport);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async function session(user: UserRow, refreshToken: string): Promise<AuthSession> {
    const { token, expiresAt } = await accessToken(user.id);
    return { accessToken: token, refreshToken, expiresAt, user };
  }

  async function newSession(user: UserRow): Promise<AuthSession> {
    const refreshToken = randomBytes(32).toString('base64url');
    await store.insertRefreshToken({
      id: randomUUID(),
      userId: user.id,
      familyId: randomUUID(),
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(clock.now().getTime() + deps.refreshTokenTtl * 1000),
    });
    return session(user, refreshToken);
  }

  async function userById(id: string): Promise<UserRow> {
    const [user] = await store.findUsersByIds([id]);
    if (!user) throw unauthenticated('Account no longer exists');
    return user;
  }

  return {
    async signUp(email, name, password) {
      const normalized = normalizeEmail(email);
      const cleanName = checkName(name);
      checkPassword(password);
      const id = randomUUID();
      const user = await store.createUser({
        id,
        email: normalized,
        name: cleanName,
        color: colorFor(id),
        passwordHash: await hashPassword(password),
      });
      if (!user) throw new DomainError('BAD_USER_INPUT', 'An account with this email already exists');
      return newSession(user);
    },

    async logIn(email, password) {
      const user = await store.findUserByEmail(email.trim().toLowerCase());
      const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash));
      if (!user || !ok) throw unauthenticated('Wrong email or password');
      return newSession(user);
    },

    async refresh(refreshToken) {
      const successor = successorOf(refreshToken);
      const outcome = await store.rotateRefreshToken(
        sha256(refreshToken),
        {
          id: randomUUID(),
          tokenHash: sha256(successor),
          expiresAt: new Date(clock.now().getTime() + deps.refreshTokenTtl * 1000),
        },
        clock.now(),
        REFRESH_GRACE_MS,
      );
      if (outcome.status === 'reused') throw unauthenticated('Refresh token reused: please log in again');
      if (outcome.status === 'invalid') throw unauthenticated('Invalid or expired refresh token');
      return session(await userById(outcome.userId), successor);
    },

    async logOut(refreshToken) {
      return (await store.revokeRefreshFamily(sha256(refreshToken), clock.now())) !== null;
    },

    async authenticate(token, ip = null) {
      if (token.startsWith(API_TOKEN_PREFIX)) {
        const now = clock.now();
        const found = await store.findApiToken(sha256(token));
        if (!found) throw unauthenticated('Invalid or revoked API token');
        const { scope } = found;
        let refused: string | null = null;
        if (scope?.expiresAt && scope.expiresAt.getTime() <= now.getTime()) refused = 'API token expired';
        else if (scope && !addressAllowed(scope.allowFrom, ip)) refused = 'API token not allowed from this address';
        if (refused) {
          // In the audit log with the address; lastUsedAt and lastUsedIp show accepted uses only.
          deps.onRefused?.({ userId: found.userId, tokenId: found.id, reason: refused, ip });
          throw unauthenticated(refused);
        }
        await store.touchApiToken(found.id, now, ip);
        if (!scope) return { userId: found.userId, via: 'api', expiresAt: null, apiTokenId: found.id };
        return { userId: found.userId, via: 'api', expiresAt: scope.expiresAt, apiTokenId: found.id, scope };
      }
      try {
        const { payload } = await jwtVerify(token, await keyImport, {
          algorithms: ['HS256'],
          currentDate: clock.now(),
        });
        if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
          throw unauthenticated('Invalid access token');
        }
        const expiresAt = new Date(payload.exp * 1000);
        if (payload.typ === 'embed' && typeof payload.dsh === 'string') {
          return { userId: payload.sub, via: 'embed', expiresAt, apiTokenId: null, embedDashboardId: payload.dsh };
        }
        if (payload.typ !== 'access') throw unauthenticated('Invalid access token');
        return { userId: payload.sub, via: 'access', expiresAt, apiTokenId: null };
      } catch (error) {
        if (error instanceof DomainError) throw error;
        if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
        throw unauthenticated('Invalid access token');
      }
    },

    async createEmbedToken(userId, dashboardId, ttlSeconds) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > EMBED_TOKEN_TTL.max) {
        throw badInput(`ttlSeconds must be between 1 and ${EMBED_TOKEN_TTL.max} (30 days)`);
      }
      const now = Math.floor(clock.now().getTime() / 1000);
      const exp = now + ttlSeconds;
      // `typ: 'embed'` is the read-only marker: authenticate() scopes such a token to `dsh`.
      const token = await new SignJWT({ typ: 'embed', dsh: dashboardId })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(userId)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(await keyImport);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    async createApiToken(userId, name, scope = null) {
      const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const apiToken = await store.insertApiToken({
        id: randomUUID(),
        userId,
        name: checkTokenName(name),
        tokenHash: sha256(token),
        scope,
      });
      return { token, apiToken };
    },

    listApiTokens: (userId) => store.listApiTokens(userId),

    revokeApiToken: (userId, id) => store.revokeApiToken(userId, id, clock.now()),

    issueSession: newSession,
  };
}
