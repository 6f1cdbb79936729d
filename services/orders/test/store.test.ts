import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";
import { Outbox } from "@bazaar/runtime/events/outbox";
import { events } from "@bazaar/shop/events";
import { confirmOrder, getOrder, getOrderByKey, insertPendingOrder, migrationsDir, rejectOrder } from "../src/store.js";

// Orders' statements on a real PostgreSQL, where their SQL is what is tested.

let db: Database;
beforeAll(async () => {
  db = await openDatabase(await freshDatabase("orders-store"));
  await migrateService(db, migrationsDir);
});
afterAll(() => db?.close());

const call = (customerId: string, idempotencyKey: string) => ({ id: newId("ord"), customerId, idempotencyKey, requestDigest: "d" });

describe("pending orders taken at once", () => {
  it("each take their key, and of calls sharing a key exactly one does, whether they share a statement or not", async () => {
    const calls = [
      ...Array.from({ length: 10 }, (_, i) => call("together", `key-${i}`)),
      ...Array.from({ length: 4 }, () => call("together", "shared-key")),
      // Another customer's same key is another order.
      call("someone-else", "shared-key"),
    ];
    const taken = await Promise.all(calls.map((one) => insertPendingOrder(db, one)));

    calls.forEach((one, index) => {
      if (one.idempotencyKey !== "shared-key") expect(taken[index], one.idempotencyKey).toMatchObject({ id: one.id, status: "PENDING", lines: [] });
    });
    const shared = taken.slice(10, 14).filter((order) => order !== undefined);
    expect(shared).toHaveLength(1);
    expect((await getOrderByKey(db, "together", "shared-key"))?.id).toBe(shared[0]!.id);
    expect(taken[14]).toMatchObject({ customerId: "someone-else", status: "PENDING" });
  });
});

describe("orders confirmed at once", () => {
  it("each get their own lines, total and OrderPlaced; one no longer PENDING gets nothing written", async () => {
    const outbox = new Outbox();
    const pending = await Promise.all(Array.from({ length: 5 }, (_, i) => insertPendingOrder(db, call("confirming", `confirm-${i}`))));
    const [rejected] = [pending[2]!];
    await rejectOrder(db, rejected.id, "stalled", "unavailable");
    const eur = (minorUnits: number) => ({ currencyCode: "EUR", minorUnits });
    const confirmations = pending.map((order, i) => {
      const lines = Array.from({ length: i + 1 }, (_, n) => ({ productId: `product-${n}`, productName: `Product ${n}`, quantity: i + 1, unitPrice: eur(100 + n) }));
      const total = eur(lines.reduce((sum, line) => sum + line.quantity * line.unitPrice.minorUnits, 0));
      const event = outbox.entry(events.orderPlaced, { orderId: order!.id, customerId: "confirming", lines: [], total, paymentId: `pay_${i}`, occurredAt: new Date() });
      return { id: order!.id, lines, total, paymentId: `pay_${i}`, at: new Date(), event };
    });
    const confirmed = await Promise.all(confirmations.map((confirmation) => confirmOrder(db, confirmation)));

    expect(confirmed[2]).toBeUndefined();
    expect(await getOrder(db, rejected.id)).toMatchObject({ status: "REJECTED", lines: [], total: undefined });
    for (const [i, confirmation] of confirmations.entries()) {
      if (i === 2) continue;
      const expected = { id: confirmation.id, status: "CONFIRMED", lines: confirmation.lines, total: confirmation.total, paymentId: confirmation.paymentId };
      expect(confirmed[i], `order ${i}`).toMatchObject(expected);
      expect(await getOrder(db, confirmation.id), `order ${i} read back`).toMatchObject(expected);
    }
    const recorded = await db.query<{ id: string; payload: Uint8Array }>("select id, payload from outbox order by seq");
    const mine = recorded.filter((row) => confirmations.some(({ event }) => event.id === row.id));
    expect(mine.map((row) => OrderPlaced.decode(row.payload).orderId)).toEqual(confirmations.filter((_, i) => i !== 2).map(({ id }) => id));
  });
});
