import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getOrderByKey, insertPendingOrder, migrationsDir } from "../src/store.js";

// Orders' statements on a real PostgreSQL, where their SQL is what is tested.

let db: Database;
beforeAll(async () => {
  db = await openDatabase(await freshDatabase("orders-store"));
  await migrateService(db, migrationsDir);
});
afterAll(() => db?.close());

describe("pending orders taken at once", () => {
  it("each take their key, and of calls sharing a key exactly one does, whether they share a statement or not", async () => {
    const call = (customerId: string, idempotencyKey: string) => ({ id: newId("ord"), customerId, idempotencyKey, requestDigest: "d" });
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
