import { status, type ServiceError } from "@grpc/grpc-js";
import { baseServiceConfig, ConfigError, parseConfig } from "./config.js";
import { type Queryable } from "./db/database.js";
import { freshDatabase } from "./db/fresh-database.js";
import { DomainError, type FieldViolation } from "./errors.js";
import { type RunningService, type ServiceOptions, startService } from "./service.js";

export { freshDatabase, TEST_POSTGRES_VARIABLE } from "./db/fresh-database.js";

/**
 * Start a service in-process for a component test: real gRPC on a free port of
 * 127.0.0.1, a fresh database of its own on the test cluster, logs off unless LOG_LEVEL
 * is set. Plaintext (TLS_MODE=insecure) unless `env` asks for mTLS: component
 * tests are about behaviour; test/security covers the transport. Stop it with
 * `service.stop()`.
 */
export async function startTestService(
  name: string,
  options: Omit<ServiceOptions, "name" | "config">,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningService & { address: string }> {
  const config = parseConfig(baseServiceConfig(), {
    GRPC_ADDR: "127.0.0.1:0",
    ADMIN_ADDR: "127.0.0.1:0",
    DATABASE_URL: env.DATABASE_URL ?? (await freshDatabase(name)),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    TLS_MODE: "insecure",
    ...env,
  });
  const service = await startService({ name, config, ...options });
  return { ...service, address: `127.0.0.1:${service.grpcPort}` };
}

/** The error a gRPC call failed with; throws if it succeeded. */
export async function failureOf(call: Promise<unknown>): Promise<ServiceError> {
  const outcome = await call.then(
    () => ({ failed: false as const }),
    (error: ServiceError) => ({ failed: true as const, error }),
  );
  if (!outcome.failed) throw new Error("expected the call to fail");
  return outcome.error;
}

/** The DomainError `run` throws; throws if it returns or throws anything else. */
export function domainErrorOf(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw new Error(`expected a DomainError, got ${String(error)}`);
  }
  throw new Error("expected a DomainError");
}

/** The message of the ConfigError `run` throws; throws if it returns or throws anything else. */
export function configErrorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  }
  throw new Error("expected a ConfigError");
}

/** The field violations of the "invalid" error `run` throws; throws if it throws anything else. */
export function violationsOf(run: () => unknown): FieldViolation[] {
  const error = domainErrorOf(run);
  if (error.kind !== "invalid") throw new Error(`expected an invalid request, got ${error.kind}: ${error.message}`);
  return [...error.fieldViolations];
}

/** `db` itself to its callers, with `noted` told of every query before it goes on. */
function noting(db: Queryable, noted: (sql: string, params?: unknown[]) => void): Queryable {
  return {
    query: ((sql: string, params?: unknown[]) => {
      noted(sql, params);
      return db.query(sql, params);
    }) as Queryable["query"],
    exec: (sql: string) => db.exec(sql),
    afterCommit: (callback: () => void) => db.afterCommit(callback),
  };
}

/**
 * `db`, counting the statements sent through it: for tests of batchedStatement's
 * users, whose calls queue per database object, so every call must go through
 * this one.
 */
export function countingStatements(db: Queryable): Queryable & { statements: number } {
  const counted = { ...noting(db, () => (counted.statements += 1)), statements: 0 };
  return counted;
}

/**
 * `db`, remembering the statements sent through it, for tests of how PostgreSQL
 * runs them: `tablesReadWhole()` asks it how it would run each one now, with the
 * parameters it was sent (EXPLAIN: planned, not run again), and names the tables
 * a plan reads from end to end (Seq Scan). A statement that finds its rows by key
 * must reach them through an index however large the table has grown: a table
 * read whole for every batch costs more with every order the shop has taken.
 */
export function recordingStatements(db: Queryable): Queryable & { tablesReadWhole(): Promise<string[]> } {
  const sent: Array<{ sql: string; params?: unknown[] }> = [];
  return {
    ...noting(db, (sql, params) => sent.push({ sql, params })),
    async tablesReadWhole() {
      const tables = new Set<string>();
      for (const { sql, params } of sent) {
        const [row] = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`explain (format json) ${sql}`, params);
        for (const table of seqScannedTables(row!["QUERY PLAN"][0].Plan)) tables.add(table);
      }
      return [...tables].sort();
    },
  };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function* seqScannedTables(node: PlanNode): Generator<string> {
  if (node["Node Type"] === "Seq Scan" && node["Relation Name"]) yield node["Relation Name"];
  for (const child of node.Plans ?? []) yield* seqScannedTables(child);
}
