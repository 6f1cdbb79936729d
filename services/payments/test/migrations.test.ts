import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate, migrateService } from "@bazaar/runtime/db/migrate";
import { freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { givenUpReason, migrationsDir } from "../src/store.js";

// A database made by an earlier version keeps what its rows meant after the upgrade.

let db: Database;
beforeAll(async () => {
  db = await openDatabase(await freshDatabase("payments_upgrade"));
  await migrateService(db, migrationsDir, { through: "003_charge_recovery.sql" });
});
afterAll(() => db?.close());

describe("004_given_up_orders", () => {
  it("keeps a refund owed on a PENDING charge as its order given up", async () => {
    await db.query(
      `insert into payments (id, idempotency_key, order_id, customer_id, amount_minor, currency_code, status, refund_due_reason)
       values ('pay_owed', 'k1', 'ord_owed', 'c', 100, 'EUR', 'PENDING', 'order rejected: payments is unavailable'),
              ('pay_fine', 'k2', 'ord_fine', 'c', 100, 'EUR', 'PENDING', '')`,
    );
    expect(await migrate(db, migrationsDir, { through: "004_given_up_orders.sql" })).toEqual(["004_given_up_orders.sql"]);
    const [owed] = await db.query<{ reason: string }>("select reason from given_up_orders where order_id = 'ord_owed'");
    expect(owed?.reason).toBe("order rejected: payments is unavailable");
    expect(await db.query("select 1 from given_up_orders where order_id = 'ord_fine'")).toEqual([]);
  });
});

describe("005_order_fates", () => {
  it("keeps every given-up order given up, with its reason, and gives them a fate row each", async () => {
    expect(await migrate(db, migrationsDir)).toEqual(["005_order_fates.sql"]);
    expect(await givenUpReason(db, "ord_owed")).toBe("order rejected: payments is unavailable");
    expect(await givenUpReason(db, "ord_fine")).toBeUndefined();
    // A fate row says given up with a time, or not given up without one.
    await expect(db.query("insert into order_fates (order_id, given_up_reason) values ('ord_half', 'no time')")).rejects.toThrow(/check constraint/);
  });
});
