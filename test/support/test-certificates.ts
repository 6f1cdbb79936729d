import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCertificates } from "../../scripts/certs/issue.js";

const issued = new Map<string, string>();

/**
 * A directory with a fresh development CA and a certificate for each of
 * `identities` (what `make certs` writes for the mesh's), made once per test
 * file and list: TLS_DIR for processes started by the test. Left in the temp
 * dir (a few KB).
 */
export function testCertificates(identities: readonly string[]): string {
  const key = identities.join(",");
  let dir = issued.get(key);
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), "bazaar-certs-"));
    ensureCertificates(dir, identities);
    issued.set(key, dir);
  }
  return dir;
}
