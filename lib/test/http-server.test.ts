import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importLoadsUndici, repoRoot } from "./support/process.js";

// Every module of the runtime, imported in a fresh process, leaves Node's bundled
// undici unloaded. Proven able to fail: a plain `import { createServer } from
// "node:http"` loads it on every supported Node (22 and 24 export WebSocket there).
const runtimeModules = readdirSync(join(repoRoot, "lib/src"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".ts"))
  .map((file) => join("lib/src", file));

describe("the runtime's memory", () => {
  it("never loads undici (fetch, WebSocket): no service uses it", () => {
    expect(runtimeModules.length).toBeGreaterThan(20);
    expect(importLoadsUndici(runtimeModules)).toBe(false);
  });

  it("would notice an ESM import of node:http, which loads it", () => {
    expect(importLoadsUndici(["lib/test/fixtures/imports-node-http.ts"])).toBe(true);
  });
});
