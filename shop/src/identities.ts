import { join } from "node:path";
import { packageDir } from "@bazaar/runtime/package-dir";

/**
 * The identities the development CA issues a certificate for besides the
 * services' own (`make certs`): the gateway, the development console, NATS, and two people's: the
 * operator (reads) and nats-admin (declares the streams, replays dead
 * letters). The mesh's identities are these and its services' names
 * (scripts/shop.ts); the policy file lists the same (test/security checks it).
 */
export const SUPPORT_IDENTITIES = ["gateway", "console", "nats", "operator", "nats-admin"] as const;

/**
 * Identities that only ever connect as clients, so their certificates serve
 * nothing: the gateway and the console (their HTTP ports are plain HTTP; TLS ends in front of them)
 * and the people's (the operator with grpcurl or the nats CLI, nats-admin).
 */
export const CLIENT_ONLY_IDENTITIES: ReadonlySet<string> = new Set(["gateway", "console", "operator", "nats-admin"]);

/** Who may call which method: the policy every service ships with (AUTHZ_POLICY_FILE points elsewhere). */
export const POLICY_FILE = join(packageDir("@bazaar/shop"), "..", "deploy", "authz-policy.yaml");
