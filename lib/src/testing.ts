import { status, type ServiceError } from "@grpc/grpc-js";
import { baseServiceConfig, parseConfig } from "./config.js";
import { freshDatabase } from "./db/fresh-database.js";
import { type FieldViolation, RpcError } from "./errors.js";
import { type ServiceName } from "./ports.js";
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
  name: ServiceName,
  options: Omit<ServiceOptions, "name" | "config">,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningService & { address: string }> {
  const config = parseConfig(baseServiceConfig(name), {
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

/** The RpcError `run` throws; throws if it returns or throws anything else. */
export function rpcErrorOf(run: () => unknown): RpcError {
  try {
    run();
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw new Error(`expected an RpcError, got ${String(error)}`);
  }
  throw new Error("expected an RpcError");
}

/** The field violations of the INVALID_ARGUMENT `run` throws; throws if it throws anything else. */
export function violationsOf(run: () => unknown): FieldViolation[] {
  const error = rpcErrorOf(run);
  if (error.code !== status.INVALID_ARGUMENT) throw new Error(`expected INVALID_ARGUMENT, got ${status[error.code]}: ${error.message}`);
  return [...error.fieldViolations];
}
