import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { Outbox } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase, recordingStatements } from "@bazaar/runtime/testing";
import { events } from "@bazaar/shop/events";
import { afterAll, beforeAll, expect, it } from "vitest";
import { confirmOrder, insertPendingOrder, migrationsDir } from "../src/store.js";

// Placing orders reaches its rows by key however many orders the shop has taken:
// no statement reads a table whole (explained on tables of ROWS rows, never
// analyzed, as a growing table is between autovacuum's visits).

const ROWS = 20_000;
let db: Database;

beforeAll(async () => {
  db = await openDatabase(await freshDatabase("orders-plans"));
  await migrateService(db, migrationsDir);
  await db.exec(`
    insert into orders (id, customer_id, idempotency_key, request_digest, status, currency_code, total_minor, payment_id)
      select 'ord_' || n, 'cust_' || n % 100, 'key-' || n, 'd', 'CONFIRMED', 'EUR', 500, 'pay_' || n from generate_series(1, ${ROWS}) as n;
    insert into order_lines (order_id, line_no, product_id, product_name, quantity, unit_price_minor, currency_code)
      select 'ord_' || n, 0, 'prod_1', 'Product', 1, 500, 'EUR' from generate_series(1, ${ROWS}) as n;`);
}, 60_000);
afterAll(() => db?.close());

it("orders taken and confirmed at once read no table whole", async () => {
  const recorded = recordingStatements(db);
  const outbox = new Outbox();
  const pending = await Promise.all(
    Array.from({ length: 64 }, () => insertPendingOrder(recorded, { id: newId("ord"), customerId: "cust_1", idempotencyKey: newId("key"), requestDigest: "d" })),
  );
  const total = { currencyCode: "EUR", minorUnits: 500 };
  const confirmed = await Promise.all(
    pending.map((order) => {
      const lines = [{ productId: "prod_1", productName: "Product", quantity: 1, unitPrice: total }];
      const event = outbox.entry(events.orderPlaced, { orderId: order!.id, customerId: "cust_1", lines: [], total, paymentId: "pay_1", occurredAt: new Date() });
      return confirmOrder(recorded, { id: order!.id, lines, total, paymentId: "pay_1", at: new Date(), event });
    }),
  );
  expect(confirmed.map((order) => order?.status)).toEqual(Array(64).fill("CONFIRMED"));

  expect(await recorded.tablesReadWhole()).toEqual([]);
});
