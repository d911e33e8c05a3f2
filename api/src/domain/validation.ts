/** Input rules shared by every resolver (BAD_USER_INPUT when broken). */
import { badInput } from '../errors.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Lower-cases and checks an email address. */
export function normalizeEmail(email: string): string {
  const value = email.trim().toLowerCase();
  if (value.length > 254 || !EMAIL.test(value)) throw badInput('Enter a valid email address');
  return value;
}

export function checkName(name: string): string {
  const value = name.trim();
  if (value.length < 1 || value.length > 100) throw badInput('Name must be 1 to 100 characters');
  return value;
}

export function checkPassword(password: string): string {
  if (password.length < 8) throw badInput('Password must be at least 8 characters');
  if (password.length > 256) throw badInput('Password must be at most 256 characters');
  if (!/[A-Za-z]/.test(password) || !/[^A-Za-z]/.test(password)) {
    throw badInput('Password must mix letters with digits or symbols');
  }
  if (new Set(password).size < 4) throw badInput('Password is too repetitive');
  return password;
}

export function checkTitle(title: string): string {
  const value = title.trim();
  if (value.length < 1 || value.length > 200) throw badInput('Title must be 1 to 200 characters');
  return value;
}

export function checkTokenName(name: string): string {
  const value = name.trim();
  if (value.length < 1 || value.length > 100) throw badInput('Token name must be 1 to 100 characters');
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be a stored id (our ids are UUIDs); anything else cannot exist. */
export function isId(id: string): boolean {
  return UUID.test(id);
}

/** clientIds are chosen by clients: printable, bounded. */
export function checkClientId(clientId: string): string {
  if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(clientId)) {
    throw badInput('clientId must be 1 to 64 characters of letters, digits, _ : . -');
  }
  return clientId;
}

export function checkSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > 2_147_483_647) throw badInput('seq must be a positive integer');
  return seq;
}

const PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#469990',
  '#9a6324',
  '#800000',
  '#808000',
  '#000075',
];

/** A stable cursor color for a user id. */
export function colorFor(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}
