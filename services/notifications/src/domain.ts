import { Violations } from "@bazaar/runtime/errors";
import { checkCustomerId } from "@bazaar/shop/ids";
import { encodePageToken, readPageSize, readPageToken } from "@bazaar/runtime/pagination";
import { type Money } from "@bazaar/gen/bazaar/common/v1/money";

/** The notifications rules, free of I/O: what each event tells the customer, how a listing is paged. */

export type NotificationKind = "ORDER_CONFIRMED" | "ORDER_REJECTED" | "ORDER_CANCELLED" | "PAYMENT_REFUNDED";

/** What an event makes us tell a customer, before it is recorded. */
export interface NewNotification {
  customerId: string;
  orderId: string;
  kind: NotificationKind;
  /** The text the customer reads. */
  message: string;
}

/** A message as recorded: with its own id, the event that caused it and when. */
export interface Notification extends NewNotification {
  id: string;
  sourceEventId: string;
  createdAt: Date;
}

// ---- Wording -------------------------------------------------------------

/**
 * ISO 4217 currencies whose minor unit is not a hundredth. Everything else has
 * two decimals. A fixed table rather than Intl: the ICU data that ships with
 * Node follows CLDR, which disagrees with ISO for a few codes (e.g. IQD), and
 * minor units are ISO's.
 */
const MINOR_DIGITS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"].map((c) => [c, 0]),
  ),
  ...Object.fromEntries(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"].map((c) => [c, 3])),
  CLF: 4,
  UYW: 4,
};

/**
 * "EUR 1,899.00" from { currencyCode: "EUR", minorUnits: 189900 }: the code,
 * then the amount with the currency's decimals. Integer arithmetic on digits
 * only, so no float ever rounds a price.
 */
export function formatMoney(money: Money): string {
  const digits = MINOR_DIGITS[money.currencyCode] ?? 2;
  const sign = money.minorUnits < 0 ? "-" : "";
  const units = String(Math.abs(Math.trunc(money.minorUnits))).padStart(digits + 1, "0");
  const whole = units.slice(0, units.length - digits).replace(/\B(?=(\d{3})+$)/g, ",");
  const fraction = digits > 0 ? `.${units.slice(units.length - digits)}` : "";
  return `${money.currencyCode} ${sign}${whole}${fraction}`;
}

/** A reason as the end of a sentence: trimmed, without its own final full stop. */
function clause(reason: string): string {
  return reason.trim().replace(/\.+$/, "");
}

/** ": reason." or "." when there is no reason to give. */
function ending(reason: string): string {
  const text = clause(reason);
  return text === "" ? "." : `: ${text}.`;
}

export function orderConfirmed(event: {
  orderId: string;
  customerId: string;
  lines: Array<{ quantity: number }>;
  total?: Money | undefined;
}): NewNotification {
  const items = event.lines.reduce((sum, line) => sum + line.quantity, 0);
  const count = `${items} ${items === 1 ? "item" : "items"}`;
  // A confirmed order is worth telling even if the event lacks its total.
  const total = event.total ? `, total ${formatMoney(event.total)}` : "";
  return {
    customerId: event.customerId,
    orderId: event.orderId,
    kind: "ORDER_CONFIRMED",
    message: `Your order ${event.orderId} is confirmed: ${count}${total}.`,
  };
}

export function orderRejected(event: { orderId: string; customerId: string; reason: string }): NewNotification {
  return {
    customerId: event.customerId,
    orderId: event.orderId,
    kind: "ORDER_REJECTED",
    message: `Your order ${event.orderId} could not be placed${ending(event.reason)}`,
  };
}

export function orderCancelled(event: { orderId: string; customerId: string; reason: string }): NewNotification {
  return {
    customerId: event.customerId,
    orderId: event.orderId,
    kind: "ORDER_CANCELLED",
    message: `Your order ${event.orderId} has been cancelled${ending(event.reason)}`,
  };
}

export function paymentRefunded(event: { orderId: string; customerId: string; amount?: Money | undefined }): NewNotification {
  const amount = event.amount ? ` of ${formatMoney(event.amount)}` : "";
  return {
    customerId: event.customerId,
    orderId: event.orderId,
    kind: "PAYMENT_REFUNDED",
    message: `Your refund${amount} for order ${event.orderId} is on its way.`,
  };
}

// ---- Listing -------------------------------------------------------------

/** Where the previous page stopped: newest first, so the next page is strictly older. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export interface NotificationPageQuery {
  customerId: string;
  pageSize: number;
  /** List rows strictly before this one in (created_at desc, id desc) order; undefined for the first page. */
  before: Cursor | undefined;
}

export function parseListNotifications(request: {
  customerId: string;
  pageSize: number;
  pageToken: string;
}): NotificationPageQuery {
  const violations = new Violations();
  checkCustomerId(request.customerId, violations, "customer_id");
  const pageSize = readPageSize(request.pageSize, violations);
  const token = readPageToken(request.pageToken, ["createdAt", "id"], violations);
  let before: Cursor | undefined;
  if (token) {
    const createdAt = new Date(token.createdAt);
    // A token that decodes but holds no instant was not made by us.
    if (Number.isNaN(createdAt.getTime())) violations.add("page_token", "is not a token returned by a previous page of this list");
    else before = { createdAt, id: token.id };
  }
  violations.throwIfAny();
  return { customerId: request.customerId, pageSize, before };
}

/**
 * Cut a page from rows fetched with one extra row (limit pageSize + 1): the
 * extra row only tells that another page exists, so the last page never ends
 * with a token that leads to an empty page.
 */
export function toPage(rows: Notification[], pageSize: number): { notifications: Notification[]; nextPageToken: string } {
  const notifications = rows.slice(0, pageSize);
  const last = notifications.at(-1);
  const nextPageToken =
    rows.length > pageSize && last ? encodePageToken({ createdAt: last.createdAt.toISOString(), id: last.id }) : "";
  return { notifications, nextPageToken };
}
