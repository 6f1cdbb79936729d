import { randomUUID } from "node:crypto";

/** Ids minted by a service: a short type prefix and 32 hex digits, e.g. "ord_3f2a…", "evt_…". */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "")}`;
}

/** Whether `value` is an id newId minted with this prefix. */
export function isId(prefix: string, value: string): boolean {
  return new RegExp(`^${prefix}_[0-9a-f]{32}$`).test(value);
}
