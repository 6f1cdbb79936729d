/**
 * What a mesh has exchanged so far, counted by the mesh itself: the gRPC calls
 * its services handled (the shop's methods; health and reflection left out),
 * the events their relays published and their consumers applied, the
 * statements they sent to their databases (from each service's /metrics), the transactions on their databases (PostgreSQL's
 * pg_stat_database), and the rows PostgreSQL read by reading their tables whole
 * (pg_stat_user_tables: a plan that grows with the shop's history). Two tallies
 * around a load, divided by its orders, give the messages per order.
 */
import { openDatabase } from "@bazaar/runtime/db/database";

export interface Tally {
  grpcCalls: number;
  eventsPublished: number;
  eventsApplied: number;
  /** Every statement the services sent, BEGIN and COMMIT included, and by service. */
  statements: number;
  statementsBy: Record<string, number>;
  transactions: number;
  /** Rows read by sequential scans of the services' tables. */
  rowsReadWhole: number;
}

/** The sum of a counter's samples in Prometheus text whose labels pass `keep`. */
export function counterSum(text: string, name: string, keep: (labels: string) => boolean = () => true): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = line.slice(name.length, line.lastIndexOf(" "));
    if (keep(labels)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** `admin`: each service's admin address; `superuserUrl`: the cluster's, to read every database's statistics. */
export async function tally(admin: Record<string, string>, superuserUrl: (database?: string) => string): Promise<Tally> {
  const totals: Tally = { grpcCalls: 0, eventsPublished: 0, eventsApplied: 0, statements: 0, statementsBy: {}, transactions: 0, rowsReadWhole: 0 };
  for (const [name, address] of Object.entries(admin)) {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    totals.grpcCalls += counterSum(text, "grpc_server_handled_total", (labels) => labels.includes('grpc_service="bazaar.'));
    totals.eventsPublished += counterSum(text, "bazaar_events_published_total");
    totals.eventsApplied += counterSum(text, "bazaar_events_consumed_total", (labels) => labels.includes('outcome="applied"'));
    totals.statementsBy[name] = counterSum(text, "bazaar_db_statements_total");
    totals.statements += totals.statementsBy[name];
  }
  const db = await openDatabase(superuserUrl());
  try {
    // Each service's own database bears its name (make up, the bench mesh).
    const [row] = await db.query<{ transactions: string }>(
      "select coalesce(sum(xact_commit + xact_rollback), 0)::text as transactions from pg_stat_database where datname = any($1)",
      [Object.keys(admin)],
    );
    totals.transactions = Number(row?.transactions ?? 0);
  } finally {
    await db.close();
  }
  // A table's statistics live in its own database: one look in each.
  for (const name of Object.keys(admin)) {
    const own = await openDatabase(superuserUrl(name));
    try {
      const [row] = await own.query<{ rows: string }>("select coalesce(sum(seq_tup_read), 0)::text as rows from pg_stat_user_tables");
      totals.rowsReadWhole += Number(row?.rows ?? 0);
    } finally {
      await own.close();
    }
  }
  return totals;
}

/** `after` − `before`, per order. */
export function perOrder(before: Tally, after: Tally, orders: number): Tally {
  const share = (from: number, to: number) => Math.round(((to - from) / Math.max(orders, 1)) * 100) / 100;
  const each = (key: Exclude<keyof Tally, "statementsBy">) => share(before[key], after[key]);
  return {
    grpcCalls: each("grpcCalls"),
    eventsPublished: each("eventsPublished"),
    eventsApplied: each("eventsApplied"),
    statements: each("statements"),
    statementsBy: Object.fromEntries(Object.entries(after.statementsBy).map(([name, count]) => [name, share(before.statementsBy[name] ?? 0, count)])),
    transactions: each("transactions"),
    rowsReadWhole: each("rowsReadWhole"),
  };
}
