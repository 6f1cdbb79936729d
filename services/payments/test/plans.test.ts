import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase, recordingStatements } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresCardLedger } from "../src/card-ledger.js";
import { insertPendingPayment, migrationsDir, settleUnlessGivenUp } from "../src/store.js";

// A charge's statements reach their rows by key however many payments the shop has
// taken: none reads a table whole (explained on tables of ROWS rows, never analyzed,
// as a growing table is between autovacuum's visits).

const ROWS = 20_000;
let db: Database;

beforeAll(async () => {
  db = await openDatabase(await freshDatabase("payments-plans"));
  await migrateService(db, migrationsDir);
  await db.exec(`
    insert into payments (id, idempotency_key, order_id, customer_id, amount_minor, currency_code, status)
      select 'pay_' || n, 'key-' || n, 'ord_' || n, 'cust_' || n % 100, 1999, 'EUR', 'CAPTURED' from generate_series(1, ${ROWS}) as n;
    insert into order_fates (order_id) select 'ord_' || n from generate_series(1, ${ROWS}) as n;
    insert into simulated_card_ledger (charge_id, outcome) select 'pay_' || n, 'APPROVED' from generate_series(1, ${ROWS}) as n;`);
}, 60_000);
afterAll(() => db?.close());

it("claims, settles and the card network's words read no table whole, several at once", async () => {
  const recorded = recordingStatements(db);
  const command = () => ({ idempotencyKey: newId("key"), orderId: newId("ord"), customerId: "cust_1", amount: { currencyCode: "EUR", minorUnits: 500 }, paymentToken: "tok_visa" });
  const claimed = await Promise.all(Array.from({ length: 64 }, () => insertPendingPayment(recorded, { id: newId("pay"), command: command() })));
  const ledger = new PostgresCardLedger(recorded);
  await Promise.all(claimed.map((pending) => ledger.record(pending!.id, { approved: true })));
  const settled = await Promise.all(claimed.map((pending) => settleUnlessGivenUp(recorded, { pending: pending!, settlement: { status: "CAPTURED" }, at: new Date(), event: undefined })));
  expect(settled.map((one) => one.payment?.status)).toEqual(Array(64).fill("CAPTURED"));

  expect(await recorded.tablesReadWhole()).toEqual([]);
});
