import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ONLY_IDENTITIES } from "@bazaar/shop/identities";
import { MESH_IDENTITIES } from "../../scripts/shop.js";
import { repoRoot } from "../../lib/test/support/process.js";

// What `make certs` (scripts/certs.ts) leaves on disk: who may read each file,
// and what each certificate may be used for.

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

const parent = mkdtempSync(join(tmpdir(), "bazaar-make-certs-"));
const dir = join(parent, "certs");
const modeOf = (file: string) => statSync(join(dir, file)).mode & 0o777;

/** `make certs` into `dir`, under umask 000: the modes must not depend on the caller's umask. */
function makeCerts(): Promise<{ code: number; stderr: string }> {
  const command = `umask 000 && exec "${process.execPath}" --conditions=bazaar-source --import tsx scripts/certs.ts "${dir}"`;
  return new Promise((resolve) => {
    execFile("sh", ["-c", command], { cwd: repoRoot }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stderr });
    });
  });
}

beforeAll(async () => {
  const { code, stderr } = await makeCerts();
  expect(stderr).toBe("");
  expect(code).toBe(0);
}, 120_000);
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe("make certs", () => {
  it("writes every private key 0600 and every certificate 0644, in a 0700 directory, whatever the umask", () => {
    const files = readdirSync(dir).sort();
    const keys = ["ca-key.pem", ...MESH_IDENTITIES.map((name) => `${name}-key.pem`)].sort();
    const certificates = ["ca.pem", ...MESH_IDENTITIES.map((name) => `${name}.pem`)].sort();
    // Nothing else: no temporary file is left behind.
    expect(files).toEqual([...keys, ...certificates].sort());
    for (const key of keys) expect(modeOf(key).toString(8), key).toBe("600");
    for (const certificate of certificates) expect(modeOf(certificate).toString(8), certificate).toBe("644");
    expect((statSync(dir).mode & 0o777).toString(8)).toBe("700");
  });

  it("narrows a key an earlier run left readable by all, and keeps the key itself", async () => {
    const key = "orders-key.pem";
    const before = readFileSync(join(dir, key), "utf8");
    chmodSync(join(dir, key), 0o644);
    chmodSync(join(dir, "ca-key.pem"), 0o644);
    const { code } = await makeCerts();
    expect(code).toBe(0);
    expect(modeOf(key).toString(8)).toBe("600");
    expect(modeOf("ca-key.pem").toString(8)).toBe("600");
    expect(readFileSync(join(dir, key), "utf8")).toBe(before);
  }, 60_000);

  it("lets each certificate do only what its identity does: the gateway and the people's only call, services and NATS (its routes) both", () => {
    const usage = (name: string) => [...(new X509Certificate(readFileSync(join(dir, `${name}.pem`))).keyUsage ?? [])].sort();
    for (const name of MESH_IDENTITIES) expect(usage(name), name).toEqual(CLIENT_ONLY_IDENTITIES.has(name) ? [CLIENT_AUTH] : [SERVER_AUTH, CLIENT_AUTH]);
    expect([...CLIENT_ONLY_IDENTITIES].sort()).toEqual(["console", "gateway", "nats-admin", "operator"]);
  });
});
