import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase, recordingStatements } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { commitAllHeld, migrationsDir, reserveAtOnce } from "../src/store.js";

// Reserving and selling reach their rows by key however many orders the shop has
// held and however many products it sells: none reads a table whole (explained on
// tables of ROWS rows, never analyzed, as a growing table is between autovacuum's visits).

const ROWS = 20_000;
let db: Database;

beforeAll(async () => {
  db = await openDatabase(await freshDatabase("inventory-plans"));
  await migrateService(db, migrationsDir);
  await db.exec(`
    insert into stock (product_id, available) select 'prod_' || n, 1000000 from generate_series(1, ${ROWS}) as n;
    insert into reservations (order_id, status) select 'ord_' || n, 'COMMITTED' from generate_series(1, ${ROWS}) as n;
    insert into reservation_lines (order_id, product_id, line_no, quantity)
      select 'ord_' || n, 'prod_' || (n % ${ROWS} + 1), 0, 1 from generate_series(1, ${ROWS}) as n;`);
}, 60_000);
afterAll(() => db?.close());

it("reserves taken at once and a batch of sales read no table whole", async () => {
  const recorded = recordingStatements(db);
  const orders = Array.from({ length: 64 }, (_, n) => ({
    orderId: newId("ord"),
    lines: [
      { productId: `prod_${n + 1}`, quantity: 1 },
      { productId: `prod_${n + 101}`, quantity: 2 },
    ],
  }));
  const attempts = await Promise.all(orders.map((order) => reserveAtOnce(recorded, order)));
  expect(attempts.every((attempt) => attempt.created)).toBe(true);
  const sold = await commitAllHeld(recorded, orders.map(({ orderId }) => orderId));
  expect([...sold.values()].map((reservation) => reservation.state)).toEqual(Array(64).fill("HELD"));

  expect(await recorded.tablesReadWhole()).toEqual([]);
});
