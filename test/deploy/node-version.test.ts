import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRepoFile, ROOT } from "./support/deploy.js";

/**
 * The supported Node.js is stated once, in package.json's engines; .nvmrc names the LTS
 * to install, and `make` refuses to start on anything engines does not allow. The guard
 * is run for real, on this Node, against a copy of the project whose engines it meets
 * or does not.
 */
const engines = (JSON.parse(readRepoFile("package.json")) as { engines: { node: string } }).engines.node;
const scratch = mkdtempSync(join(tmpdir(), "bazaar-node-version-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs scripts/require-node.mjs in a copy of the project whose package.json asks for `wanted`. */
function requireNode(wanted: string) {
  const project = mkdtempSync(join(scratch, "project-"));
  mkdirSync(join(project, "scripts"));
  copyFileSync(join(ROOT, "scripts/require-node.mjs"), join(project, "scripts/require-node.mjs"));
  copyFileSync(join(ROOT, ".nvmrc"), join(project, ".nvmrc"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ engines: { node: wanted } }));
  return spawnSync(process.execPath, [join(project, "scripts/require-node.mjs")], { encoding: "utf8" });
}

describe("the supported Node.js", () => {
  it("is 24 LTS to install and 22 as the floor", () => {
    expect(readRepoFile(".nvmrc").trim()).toBe("24");
    expect(engines).toBe("^22.15.0 || >=24.0.0");
  });

  it("lets this Node through, which CI runs on a supported version", () => {
    const run = requireNode(engines);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("stops an older Node with one line naming what it found, what it needs and how to get it", () => {
    const [major, minor] = process.versions.node.split(".").map(Number);
    for (const wanted of [`>=${major! + 1}.0.0`, `^${major}.${minor! + 1}.0`, `^${major! - 1}.0.0 || >=${major! + 2}.0.0`]) {
      const run = requireNode(wanted);
      expect(run.status, wanted).toBe(1);
      const lines = run.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`Node.js ${wanted}`);
      expect(lines[0]).toContain(`v${process.versions.node}`);
      expect(lines[0]).toContain("install Node 24");
    }
  });

  it("is checked first by every make target that installs, builds or runs", () => {
    const makefile = readRepoFile("Makefile");
    expect(makefile).toMatch(/^node_modules\/\.package-lock\.json: .*\| node-version$/m);
    expect(makefile).toMatch(/^node-version:.*\n\t@node scripts\/require-node\.mjs$/m);
    for (const target of ["build", "lint", "test", "up", "bench", "certs"]) {
      expect(makefile, target).toMatch(new RegExp(`^${target}: [^\\n]*(node_modules/\\.package-lock\\.json|build|gen/descriptors\\.binpb)`, "m"));
    }
  });
});
