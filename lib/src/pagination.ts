import { type Violations } from "./errors.js";

/**
 * List methods page the same way everywhere (AIP-158): page_size 0 means the
 * default, 1..MAX is honoured, anything else is INVALID_ARGUMENT; page_token is
 * opaque to clients (base64url JSON of where the previous page stopped).
 */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function readPageSize(value: number, violations: Violations, field = "page_size"): number {
  if (value === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    violations.add(field, `must be between 1 and ${MAX_PAGE_SIZE}, or 0 for the default of ${DEFAULT_PAGE_SIZE}`);
  }
  return value;
}

export function encodePageToken(cursor: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/**
 * The cursor inside a token from encodePageToken, checked to have exactly the
 * expected string keys; undefined for the first page or a token we did not issue
 * (which is added to `violations`).
 */
export function readPageToken<K extends string>(
  token: string,
  keys: readonly K[],
  violations: Violations,
  field = "page_token",
): Record<K, string> | undefined {
  if (token === "") return undefined;
  try {
    const cursor: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      typeof cursor === "object" &&
      cursor !== null &&
      Object.keys(cursor).length === keys.length &&
      keys.every((key) => typeof (cursor as Record<string, unknown>)[key] === "string")
    ) {
      return cursor as Record<K, string>;
    }
  } catch {
    // fall through: not base64url JSON
  }
  violations.add(field, "is not a token returned by a previous page of this list");
  return undefined;
}
