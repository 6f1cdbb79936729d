/**
 * `make certs`: a development CA and a certificate per identity in certs/
 * (ca.pem, <name>.pem, <name>-key.pem): each service, the NATS server, and an
 * `operator` client certificate for grpcurl. Files that exist are kept.
 *
 * Usage: node --conditions=bazaar-source --import tsx scripts/certs.ts [dir]
 * CERTS_NAMESPACE=<ns> also names <service>.<ns>.svc.cluster.local (Kubernetes).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MESH_IDENTITIES } from "@bazaar/runtime/security/policy";
import { ensureCertificates } from "./certs/issue.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = resolve(process.argv[2] ?? join(ROOT, "certs"));
const issued = ensureCertificates(dir, MESH_IDENTITIES, { namespace: process.env.CERTS_NAMESPACE || "bazaar" });
process.stdout.write(issued.length > 0 ? `certs: issued ${issued.join(", ")} in ${dir}\n` : `certs: up to date in ${dir}\n`);
