/**
 * Accounts (rules AU1, RT1, RT2): users, the refresh tokens that keep a session (rotated, with
 * a grace window; a reused one revokes its family) and the API tokens that end when revoked.
 * Part of the Store (`./store.ts`); errors as described there.
 */

import type { TokenScope } from '../domain/token-scope.js';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  color: string;
  passwordHash: string;
  createdAt: Date;
}

export interface ApiTokenRow {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** The address of the last accepted use. */
  lastUsedIp: string | null;
  /** SC1; null: the token acts as its user. */
  scope: TokenScope | null;
}

export type RefreshOutcome =
  | { status: 'rotated'; userId: string; familyId: string }
  /** Presented again within the grace window: the caller re-issues the same successor. */
  | { status: 'grace'; userId: string; familyId: string }
  /** Presented again after the grace window: the family has been revoked. */
  | { status: 'reused' }
  | { status: 'invalid' };

export interface AccountStore {
  /** Stores a new user; null when the email is taken. */
  createUser(user: Omit<UserRow, 'createdAt'>): Promise<UserRow | null>;
  findUserByEmail(email: string): Promise<UserRow | null>;
  /** The users among `ids` that exist, in no particular order. */
  findUsersByIds(ids: readonly string[]): Promise<UserRow[]>;

  insertRefreshToken(row: {
    id: string;
    userId: string;
    familyId: string;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<void>;
  /**
   * Exchanges a refresh token for `successor` (same family), atomically. Within `graceMs`
   * of a previous rotation it reports 'grace' (the caller returns the same successor);
   * later it revokes the family and reports 'reused'.
   */
  rotateRefreshToken(
    tokenHash: string,
    successor: { id: string; tokenHash: string; expiresAt: Date },
    now: Date,
    graceMs: number,
  ): Promise<RefreshOutcome>;
  /** Revokes the family of the token; returns its user, or null when unknown. */
  revokeRefreshFamily(tokenHash: string, now: Date): Promise<string | null>;

  insertApiToken(row: {
    id: string;
    userId: string;
    name: string;
    tokenHash: string;
    scope: TokenScope | null;
  }): Promise<ApiTokenRow>;
  /** The user's live (not revoked) API tokens. */
  listApiTokens(userId: string): Promise<ApiTokenRow[]>;
  /** Revokes the user's token; false when it is not theirs or already revoked. */
  revokeApiToken(userId: string, id: string, now: Date): Promise<boolean>;
  /** A live (not revoked) token; the caller checks its scope. */
  findApiToken(tokenHash: string): Promise<ApiTokenRow | null>;
  /** Records an accepted use (refused ones are in the audit log instead). */
  touchApiToken(id: string, now: Date, ip: string | null): Promise<void>;
}
