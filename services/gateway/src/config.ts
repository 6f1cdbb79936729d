import { env, transportVariables } from "@bazaar/runtime/config";
import { devModeFlag, devSettingRefused } from "@bazaar/runtime/dev-mode";
import { GATEWAY_HTTP_PORT } from "@bazaar/shop/ports";
import { z } from "zod";
import { isDevAuthSecret } from "./dev-key.js";

export const DEFAULT_ISSUER = "bazaar";
export const DEFAULT_AUDIENCE = "bazaar-gateway";
/** HS256 wants a key at least as long as its 256-bit hash; 32 characters is that much at the very least. */
export const MIN_SECRET_LENGTH = 32;

/**
 * How customers' bearer tokens are checked (HS256 JWTs, see auth.ts). The
 * secret has no default on purpose: a gateway without one must not start, and
 * no key is built into the code. Development's lives in deploy/dev.env, and the
 * gateway takes it only with BAZAAR_DEV_MODE=1 (gatewayConfig).
 */
export const authConfig = z.object({
  AUTH_JWT_SECRET: z.string({ error: "is required: the HS256 key customers' tokens are signed with" }).min(MIN_SECRET_LENGTH, `expected at least ${MIN_SECRET_LENGTH} characters`),
  AUTH_JWT_ISSUER: z.string().min(1, "expected a non-empty value").default(DEFAULT_ISSUER),
  AUTH_JWT_AUDIENCE: z.string().min(1, "expected a non-empty value").default(DEFAULT_AUDIENCE),
});

export type AuthConfig = z.infer<typeof authConfig>;

/**
 * The gateway's environment. It owns no database, so it reads its own variables
 * instead of baseServiceConfig: where to listen for HTTP, and where each service
 * it calls lives (plain host:port, as in every other discovery setting; set by
 * every launcher and deployment).
 */
export const gatewayConfig = z.object({
  HTTP_ADDR: env.address(`127.0.0.1:${GATEWAY_HTTP_PORT}`),
  CATALOG_ADDR: env.address(),
  ORDERS_ADDR: env.address(),
  NOTIFICATIONS_ADDR: env.address(),
  /** The deadline of every downstream gRPC call. */
  REQUEST_TIMEOUT_MS: env.milliseconds(5_000),
  LOG_LEVEL: env.logLevel(),
  SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
  // It calls the services with the gateway certificate, as every other client in the mesh.
  ...transportVariables(),
  ...authConfig.shape,
  /** Development-only settings allowed (@bazaar/runtime/dev-mode): here, deploy/dev.env's token key. */
  BAZAAR_DEV_MODE: devModeFlag(),
}).superRefine((config, context) => {
  if (!config.BAZAAR_DEV_MODE && isDevAuthSecret(config.AUTH_JWT_SECRET)) {
    context.addIssue({ code: "custom", path: ["AUTH_JWT_SECRET"], message: devSettingRefused("is the committed development key (deploy/dev.env)") });
  }
});

export type GatewayConfig = z.infer<typeof gatewayConfig>;
