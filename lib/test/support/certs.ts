import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MESH_IDENTITIES } from "@bazaar/shop/identities";
import { ensureCertificates } from "../../../scripts/certs/issue.js";

let issued: string | undefined;

/**
 * A directory with a fresh development CA and a certificate for every mesh
 * identity (what `make certs` writes), made once per test file: TLS_DIR for
 * processes started by the test. Left in the temp dir (a few KB).
 */
export function testCertificates(): string {
  issued ??= (() => {
    const dir = mkdtempSync(join(tmpdir(), "bazaar-certs-"));
    ensureCertificates(dir, MESH_IDENTITIES);
    return dir;
  })();
  return issued;
}
