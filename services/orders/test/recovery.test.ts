import { OrderRejected } from "@bazaar/gen/bazaar/orders/v1/events";
import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { Outbox } from "@bazaar/runtime/events/outbox";
import { newId } from "@bazaar/runtime/ids";
import { freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejectStalledOrders, STALLED_REASON } from "../src/recovery.js";
import { getOrder, insertPendingOrder, migrationsDir } from "../src/store.js";

// Orders left PENDING by a saga that died with its process are rejected, with
// the event that makes inventory release and payments refund.

let db: Database;
beforeAll(async () => {
  db = await openDatabase(await freshDatabase("recovery"));
  await migrateService(db, migrationsDir);
});
afterAll(() => db?.close());

async function pendingOrder(ageMs: number): Promise<string> {
  const id = newId("ord");
  await insertPendingOrder(db, { id, customerId: "sweeper", idempotencyKey: `key-${id}`, requestDigest: "d" });
  await db.query("update orders set created_at = now() - $2 * interval '1 millisecond' where id = $1", [id, ageMs]);
  return id;
}

describe("the stalled order sweep", () => {
  it("rejects PENDING orders older than a saga can run, and records OrderRejected", async () => {
    const stalled = await pendingOrder(60 * 60_000);
    const running = await pendingOrder(1000);

    expect(await rejectStalledOrders({ db, outbox: new Outbox() }, 30_000)).toEqual([stalled]);
    expect(await getOrder(db, stalled)).toMatchObject({ status: "REJECTED", statusReason: STALLED_REASON, failureKind: "unavailable" });
    expect((await getOrder(db, running))?.status).toBe("PENDING");

    const rows = await db.query<{ type_name: string; payload: Uint8Array }>("select type_name, payload from outbox");
    expect(rows.map((row) => row.type_name)).toEqual(["bazaar.orders.v1.OrderRejected"]);
    expect(OrderRejected.decode(rows[0]!.payload)).toMatchObject({ orderId: stalled, customerId: "sweeper", reason: STALLED_REASON });
  });

  it("leaves everything else alone on the next sweep", async () => {
    expect(await rejectStalledOrders({ db, outbox: new Outbox() }, 30_000)).toEqual([]);
    expect(await db.query("select id from outbox")).toHaveLength(1);
  });
});
