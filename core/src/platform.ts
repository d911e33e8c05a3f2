/**
 * The web-platform APIs core uses, present in browsers and in Node.js alike. Typed here
 * rather than through the DOM or Node type libraries, so core compiles against neither and
 * cannot start depending on either by accident.
 */
interface Platform {
  crypto: { randomUUID(): string };
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const platform = globalThis as unknown as Platform;
