import { type Violations } from "@bazaar/runtime/errors";
import { isId } from "@bazaar/runtime/ids";

/**
 * Identifier formats every service agrees on. They are part of the contract
 * (clients send them, services store them), so they are checked in one place.
 */

/** Product ids are slugs chosen by the catalog, e.g. "espresso-machine". */
export const PRODUCT_ID = /^[a-z0-9][a-z0-9-]{2,63}$/;
/** Customer ids come from the identity provider: 1-64 of [A-Za-z0-9_-]. */
export const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Idempotency keys are chosen by callers: 8-128 printable ASCII characters, no spaces. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,128}$/;

/** The shop's ids (newId in the runtime mints them): orders, payments, notifications, events. */
export type IdPrefix = "ord" | "pay" | "ntf" | "evt";

const EXAMPLES: Record<IdPrefix, string> = {
  ord: "ord_ followed by 32 hex digits",
  pay: "pay_ followed by 32 hex digits",
  ntf: "ntf_ followed by 32 hex digits",
  evt: "evt_ followed by 32 hex digits",
};

/** Add a violation unless `value` is a Bazaar id of this type. */
export function checkId(prefix: IdPrefix, value: string, violations: Violations, field: string): void {
  if (value === "") violations.add(field, "is required");
  else if (!isId(prefix, value)) violations.add(field, `must be ${EXAMPLES[prefix]}`);
}

export function checkProductId(value: string, violations: Violations, field: string): void {
  if (value === "") violations.add(field, "is required");
  else if (!PRODUCT_ID.test(value)) violations.add(field, 'must be 3-64 characters of a-z, 0-9 and "-", e.g. "espresso-machine"');
}

export function checkCustomerId(value: string, violations: Violations, field: string): void {
  if (value === "") violations.add(field, "is required");
  else if (!CUSTOMER_ID.test(value)) violations.add(field, "must be 1-64 characters of A-Z, a-z, 0-9, _ and -");
}

export function checkIdempotencyKey(value: string, violations: Violations, field: string): void {
  if (value === "") violations.add(field, "is required");
  else if (!IDEMPOTENCY_KEY.test(value)) violations.add(field, "must be 8-128 printable ASCII characters without spaces");
}
