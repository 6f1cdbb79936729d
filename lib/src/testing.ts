import { baseServiceConfig, parseConfig } from "./config.js";
import { type ServiceName } from "./ports.js";
import { type RunningService, type ServiceOptions, startService } from "./service.js";

/**
 * Start a service in-process for a component test: real gRPC on a free port of
 * 127.0.0.1, a real (in-memory) PostgreSQL database, logs off unless LOG_LEVEL
 * is set. Stop it with `service.stop()`.
 */
export async function startTestService(
  name: ServiceName,
  options: Omit<ServiceOptions, "name" | "config">,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningService & { address: string }> {
  const config = parseConfig(baseServiceConfig(name), {
    GRPC_ADDR: "127.0.0.1:0",
    ADMIN_ADDR: "127.0.0.1:0",
    DATABASE_URL: "memory://",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    ...env,
  });
  const service = await startService({ name, config, ...options });
  return { ...service, address: `127.0.0.1:${service.grpcPort}` };
}
