import { type Database, openDatabase } from "@bazaar/runtime/db/database";
import { migrateService } from "@bazaar/runtime/db/migrate";
import { newId } from "@bazaar/runtime/ids";
import { countingStatements, freshDatabase } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresCardLedger } from "../src/card-ledger.js";
import { migrationsDir } from "../src/store.js";

// The simulated card network's books in payments' database: the first word on a
// charge id stands, however many words arrive together.

let db: Database;

beforeAll(async () => {
  db = await openDatabase(await freshDatabase("payments"));
  await migrateService(db, migrationsDir);
}, 60_000);
afterAll(() => db?.close());

describe("PostgresCardLedger", () => {
  it("records the words that arrive while one is written in one statement, each id's first word standing", async () => {
    const counted = countingStatements(db);
    const ledger = new PostgresCardLedger(counted);
    const [approved, declined, voided, voidedFirst] = [newId("pay"), newId("pay"), newId("pay"), newId("pay")];
    const answers = await Promise.all([
      ledger.record(approved, { approved: true }),
      ledger.record(declined, { approved: false, reason: "insufficient funds" }),
      ledger.resolve(voided),
      // Two words on one id in one batch: the first stands, the second is told so.
      ledger.resolve(voidedFirst),
      ledger.record(voidedFirst, { approved: true }),
      ledger.record(approved, { approved: false, reason: "too late" }),
    ]);
    expect(answers).toEqual([{ approved: true }, { approved: false, reason: "insufficient funds" }, undefined, undefined, "voided", { approved: true }]);
    // The first alone, the five that came meanwhile together.
    expect(counted.statements).toBe(2);
    // Later words change nothing.
    expect(await ledger.record(voided, { approved: true })).toBe("voided");
    expect(await ledger.resolve(declined)).toEqual({ approved: false, reason: "insufficient funds" });
    const rows = await db.query<{ charge_id: string; outcome: string }>("select charge_id, outcome from simulated_card_ledger where charge_id = any($1) order by charge_id", [
      [approved, declined, voided, voidedFirst],
    ]);
    expect(new Map(rows.map((row) => [row.charge_id, row.outcome]))).toEqual(
      new Map([
        [approved, "APPROVED"],
        [declined, "DECLINED"],
        [voided, "VOIDED"],
        [voidedFirst, "VOIDED"],
      ]),
    );
  });
});
