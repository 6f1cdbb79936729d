import { batchedStatement } from "@bazaar/runtime/db/batched-statement";
import { columnsOf, type Queryable } from "@bazaar/runtime/db/database";
import { type ChargeOutcome } from "./domain.js";

/**
 * The simulated card network's record of charges, by charge id. The first word
 * on an id stands: a charge recorded twice keeps its first outcome (the network
 * never moves money twice for one id), and a voided id is never charged.
 */
export interface CardLedger {
  /** Record `outcome` for `chargeId` unless it has one; the outcome that stands, or "voided". */
  record(chargeId: string, outcome: ChargeOutcome): Promise<ChargeOutcome | "voided">;
  /** The outcome that stands for `chargeId`; undefined if none, and then the id is voided. */
  resolve(chargeId: string): Promise<ChargeOutcome | undefined>;
}

type Entry = ChargeOutcome | "voided";

/** The ledger in a table of payments' database (migrations/003), so it outlives a crash of payments. */
export class PostgresCardLedger implements CardLedger {
  constructor(private readonly db: Queryable) {}

  async record(chargeId: string, outcome: ChargeOutcome): Promise<Entry> {
    const declineReason = outcome.approved ? "" : outcome.reason;
    return this.firstWord(chargeId, outcome.approved ? "APPROVED" : "DECLINED", declineReason);
  }

  async resolve(chargeId: string): Promise<ChargeOutcome | undefined> {
    const entry = await this.firstWord(chargeId, "VOIDED", "");
    return entry === "voided" ? undefined : entry;
  }

  /**
   * Insert unless the id has a row, and read the row that stands (firstWords).
   * A concurrent insert of the id by another statement makes this one wait and
   * then do nothing; the row it committed is newer than this statement's
   * snapshot, so only then is it read again by a second statement.
   */
  private async firstWord(chargeId: string, outcome: string, declineReason: string): Promise<Entry> {
    const row = await firstWords(this.db, { charge_id: chargeId, outcome, decline_reason: declineReason });
    const standing = row ?? (await this.db.query<LedgerRow>("select outcome, decline_reason from simulated_card_ledger where charge_id = $1", [chargeId]))[0];
    if (!standing) throw new Error(`simulated card ledger lost charge ${chargeId}`);
    if (standing.outcome === "VOIDED") return "voided";
    return standing.outcome === "APPROVED" ? { approved: true } : { approved: false, reason: standing.decline_reason };
  }
}

/**
 * Each word inserted unless its id has a row, and the row that stands read, in
 * one statement for the words that arrive while one runs (batchedStatement):
 * charges answered at about the same time share one commit. Of two words on one
 * id in a batch the first is written, as it would be one after the other.
 */
const firstWords = batchedStatement(async (db: Queryable, words: Word[]): Promise<Array<LedgerRow | undefined>> => {
  const rows = await db.query<Word>(
    `with given as (
       select * from unnest($1::text[], $2::text[], $3::text[]) with ordinality as g(charge_id, outcome, decline_reason, n)
     ), inserted as (
       insert into simulated_card_ledger (charge_id, outcome, decline_reason)
       select distinct on (charge_id) charge_id, outcome, decline_reason from given order by charge_id, n
       on conflict (charge_id) do nothing
       returning charge_id, outcome, decline_reason
     )
     select charge_id, outcome, decline_reason from inserted
     union all
     select charge_id, outcome, decline_reason from simulated_card_ledger where charge_id = any($1::text[])`,
    columnsOf(words, (word) => word.charge_id, (word) => word.outcome, (word) => word.decline_reason),
  );
  // An id is in one of the two halves: the statement's snapshot cannot see the rows it inserts.
  const standing = new Map(rows.map((row) => [row.charge_id, row]));
  return words.map((word) => standing.get(word.charge_id));
});

interface Word extends LedgerRow {
  charge_id: string;
}

interface LedgerRow {
  outcome: string;
  decline_reason: string;
}

/** The same rules in memory, for tests of the provider alone. */
export class MemoryCardLedger implements CardLedger {
  private readonly entries = new Map<string, Entry>();

  async record(chargeId: string, outcome: ChargeOutcome): Promise<Entry> {
    if (!this.entries.has(chargeId)) this.entries.set(chargeId, outcome);
    return this.entries.get(chargeId)!;
  }

  async resolve(chargeId: string): Promise<ChargeOutcome | undefined> {
    if (!this.entries.has(chargeId)) this.entries.set(chargeId, "voided");
    const entry = this.entries.get(chargeId)!;
    return entry === "voided" ? undefined : entry;
  }
}
