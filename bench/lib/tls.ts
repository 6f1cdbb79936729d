/**
 * The mesh's certificates for the benchmarks, issued by the development CA as
 * `make certs` issues them (scripts/certs/issue.ts), but never into the repo's
 * certs/: bench/main.ts issues them once per run into its work directory
 * (BENCH_TLS_DIR) for every measurement; a script run alone issues its own into
 * a temporary directory, removed when the process exits. Issuing takes seconds
 * (RSA keys), so it is done once per process and never inside a timed figure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MESH_IDENTITIES } from "../../scripts/shop.js";
import { certificateFiles, ensureCertificates } from "../../scripts/certs/issue.js";

export { certificateFiles };

let issued: string | undefined;

/** The directory with ca.pem, <identity>.pem and <identity>-key.pem for every identity of the mesh. */
export function benchCertificates(): string {
  if (issued) return issued;
  let dir = process.env.BENCH_TLS_DIR;
  if (!dir) {
    const temporary = mkdtempSync(join(tmpdir(), "bazaar-bench-certs-"));
    process.once("exit", () => rmSync(temporary, { recursive: true, force: true }));
    dir = join(temporary, "certs");
  }
  ensureCertificates(dir, MESH_IDENTITIES);
  return (issued = dir);
}
