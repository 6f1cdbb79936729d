/**
 * `make certs`: a development CA and a certificate per identity in certs/
 * (ca.pem, <name>.pem, <name>-key.pem): each service, the NATS server, and an
 * `operator` client certificate for grpcurl. Files that exist are kept.
 *
 * Usage: node --conditions=bazaar-source --import tsx scripts/certs.ts [dir]
 * CERTS_NAMESPACE=<ns> also names <service>.<ns>.svc.cluster.local (Kubernetes).
 * Private keys are 0600 and certificates 0644 (scripts/certs/issue.ts).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MESH_IDENTITIES } from "./shop.js";
import { ensureCertificates } from "./certs/issue.js";

/** The user docker-compose.yml runs the services as unless CERTS_UID/CERTS_GID say otherwise: the image's. */
const COMPOSE_DEFAULT_ID = "1000";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = resolve(process.argv[2] ?? join(ROOT, "certs"));
const issued = ensureCertificates(dir, MESH_IDENTITIES, { namespace: process.env.CERTS_NAMESPACE || "bazaar" });
process.stdout.write(issued.length > 0 ? `certs: issued ${issued.join(", ")} in ${dir}\n` : `certs: up to date in ${dir}\n`);
// Keys are 0600: docker compose must run the services as their owner (docker-compose.yml).
const [uid, gid] = [process.getuid?.(), process.getgid?.()];
const composeRunsAs = [process.env.CERTS_UID || COMPOSE_DEFAULT_ID, process.env.CERTS_GID || COMPOSE_DEFAULT_ID].join(":");
if (uid !== undefined && composeRunsAs !== `${uid}:${gid}`) {
  process.stdout.write(`certs: the keys are yours alone (0600); for docker compose: export CERTS_UID=${uid} CERTS_GID=${gid}\n`);
}
