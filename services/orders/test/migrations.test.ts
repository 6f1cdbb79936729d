import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrate, migrateService } from "@bazaar/runtime/db/migrate";
import { freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getOrder, migrationsDir } from "../src/store.js";

// A database made by an earlier version keeps what its rows meant after the upgrade.

let db: Database;
beforeAll(async () => {
  db = await openDatabase(await freshDatabase("orders_upgrade"));
  await migrateService(db, migrationsDir, { through: "002_idempotency_key_per_customer.sql" });
});
afterAll(() => db?.close());

describe("003_failure_kind", () => {
  it("turns each rejected order's gRPC code into the kind it meant", async () => {
    const rejected = { ord_unavailable: 14, ord_declined: 9, ord_unknown_product: 5, ord_too_slow: 4, ord_bad_field: 3 } as const;
    for (const [id, code] of Object.entries(rejected)) {
      await db.query(
        `insert into orders (id, customer_id, idempotency_key, request_digest, status, status_reason, failure_code)
         values ($1, 'upgrader', $1, '', 'REJECTED', 'from before', $2)`,
        [id, code],
      );
    }
    await db.query("insert into orders (id, customer_id, idempotency_key, request_digest, status) values ('ord_confirmed', 'upgrader', 'k', '', 'CONFIRMED')");

    expect(await migrate(db, migrationsDir)).toEqual(["003_failure_kind.sql"]);
    const kinds = Object.fromEntries(await Promise.all(Object.keys(rejected).map(async (id) => [id, (await getOrder(db, id))?.failureKind] as const)));
    expect(kinds).toEqual({
      ord_unavailable: "unavailable",
      ord_declined: "precondition-failed",
      ord_unknown_product: "not-found",
      ord_too_slow: "timed-out",
      ord_bad_field: "invalid",
    });
    expect((await getOrder(db, "ord_confirmed"))?.failureKind).toBeUndefined();
  });
});
