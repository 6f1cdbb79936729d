import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDescriptorSet } from "./support/descriptors.js";
import { BUF, ROOT, run } from "./support/repo.js";

// No drift between proto/ and gen/: gen/ is not committed, but a stale gen/ in a
// working tree would let the services and the contracts disagree unnoticed.
// (That every service registers every method is checked by the provider files.)

const scratch = mkdtempSync(join(tmpdir(), "bazaar-gen-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".ts")).sort();
}

describe("gen/ matches proto/", () => {
  it("gen/descriptors.binpb (what reflection serves and events read subjects from) is the build of proto/ now", () => {
    const fresh = buildDescriptorSet(".");
    const served = readFileSync(join(ROOT, "gen", "descriptors.binpb"));
    expect(Buffer.compare(Buffer.from(fresh), served), "gen/descriptors.binpb is stale: run make gen").toBe(0);
  });

  it("gen/src (the ts-proto stubs) is what buf generate makes of proto/ now", () => {
    const result = run(BUF, ["generate", "-o", scratch]);
    expect(result.status, result.stderr).toBe(0);
    const fresh = join(scratch, "gen", "src");
    const current = join(ROOT, "gen", "src");
    expect(filesUnder(current), "gen/src has other files than buf generate makes: run make gen").toEqual(filesUnder(fresh));
    const stale = filesUnder(fresh).filter((name) => !readFileSync(join(fresh, name)).equals(readFileSync(join(current, name))));
    expect(stale, "these stubs in gen/src are stale: run make gen").toEqual([]);
  });
});
