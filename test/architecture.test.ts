import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../lib/test/support/process.js";

// The shape of the house, checked on the code's own imports: no file imports
// itself in a loop, and no service reaches into another's code (they talk over
// gRPC and events only).

const SOURCE_ROOTS = ["lib/src", "shop/src", "services", "scripts", "bench"];

/** Every TypeScript source file (not tests, not build output, not dependencies). */
function sources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === "dist" || name === "test") continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) files.push(relative(repoRoot, path));
    }
  };
  for (const root of SOURCE_ROOTS) walk(join(repoRoot, root));
  return files;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

/** The repository files `file` imports (relative imports and the workspace packages), type-only ones included. */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const text = readFileSync(join(repoRoot, file), "utf8");
  const targets: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2]!;
    const candidates = specifier.startsWith(".")
      ? [resolve(join(repoRoot, dirname(file)), specifier)]
      : specifier.startsWith("@bazaar/runtime/")
        ? [join(repoRoot, "lib/src", specifier.slice("@bazaar/runtime/".length))]
        : specifier.startsWith("@bazaar/shop/")
          ? [join(repoRoot, "shop/src", specifier.slice("@bazaar/shop/".length))]
        : specifier.startsWith("@bazaar/") && !specifier.startsWith("@bazaar/gen")
          ? [join(repoRoot, "services", specifier.slice("@bazaar/".length).split("/")[0]!, "src")]
          : [];
    for (const candidate of candidates) {
      const path = relative(repoRoot, candidate).replace(/\.js$/, "");
      const found = [`${path}.ts`, `${path}.mts`, path, `${path}/index.ts`].find((option) => known.has(option));
      if (found) targets.push(found);
      else if (specifier.startsWith("@bazaar/") && !specifier.startsWith("@bazaar/runtime/") && !specifier.startsWith("@bazaar/shop/")) targets.push(`${path}/`);
    }
  }
  return targets;
}

/** Strongly connected groups of more than one file, or a file importing itself (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    order.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!order.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, order.get(next)!));
    }
    if (low.get(node) === order.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== node);
      if (group.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(group.sort());
    }
  };
  for (const node of graph.keys()) if (!order.has(node)) visit(node);
  return found;
}

const serviceOf = (file: string) => /^services\/([^/]+)\//.exec(file)?.[1];

/** The shop's folders: its services, its own code, scripts, deployment, tests and benchmarks, and the generated code of its contracts. */
const SHOP_PATHS = ["services", "shop", "scripts", "deploy", "test", "bench", "gen/src/bazaar"];
const inShop = (path: string) => SHOP_PATHS.some((folder) => path.startsWith(`${folder}/`));

/** A file's string literals, comments left out: its import specifiers and any path it names are among them. */
function stringLiteralsOf(text: string): string[] {
  const code = text.replace(/^\s*\/\*[\s\S]*?\*\//gm, "").replace(/(^|\s)\/\/.*$/gm, "$1");
  return [...code.matchAll(/(["'`])((?:\\.|(?!\1)[^\\\n])*)\1/g)].map((match) => match[2]!);
}

/**
 * What `file` (under lib/test) reaches of the shop: a package of the shop (@bazaar/shop,
 * a service's, the generated code of the shop's contracts), a relative path into one of
 * its folders, or a repository path naming one ("deploy/nats/nats.conf" for a process).
 * Only @bazaar/runtime and the standard contracts of @bazaar/gen are the runtime's.
 */
function shopReachedBy(file: string, text: string): string[] {
  return stringLiteralsOf(text).filter((literal) => {
    // A folder named alone counts when reached relatively; a bare word ("test") is no path.
    if (literal.startsWith("./") || literal.startsWith("../")) return inShop(`${relative(repoRoot, resolve(repoRoot, dirname(file), literal))}/`);
    if (literal.startsWith("@bazaar/")) return !/^@bazaar\/(runtime(\/|$)|gen\/(?!bazaar(\/|$)))/.test(literal);
    return inShop(literal);
  });
}

describe("the house", () => {
  const files = sources();
  const known = new Set(files);
  const graph = new Map(files.map((file) => [file, importsOf(file, known)]));

  it("reads the imports it checks (a parser that found none would prove nothing)", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get("services/orders/src/main.ts")).toContain("lib/src/module.ts");
    expect(graph.get("services/orders/src/module.ts")).toContain("services/orders/src/service.ts");
  });

  it("has no import circles, type-only imports included", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("finds a circle when there is one", () => {
    expect(circles(new Map([["a.ts", ["b.ts"]], ["b.ts", ["a.ts"]], ["c.ts", ["a.ts"]]]))).toEqual([["a.ts", "b.ts"]]);
  });

  it("keeps every service's code its own: a service imports no other service", () => {
    const crossings = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => serviceOf(file) !== undefined && serviceOf(target) !== undefined && serviceOf(target) !== serviceOf(file)).map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it("keeps the runtime free of the shop: no service's code, nothing of shop/, none of the shop's contracts, in its code or its own tests", () => {
    const reaching = [...graph].flatMap(([file, targets]) =>
      file.startsWith("lib/src/") ? targets.filter((target) => !target.startsWith("lib/src/")).map((target) => `${file} -> ${target}`) : [],
    );
    expect(reaching).toEqual([]);
    // The generated code of the shop's own contracts (bazaar.*) is the shop's; the runtime may use the standard ones (google.rpc, grpc.health, grpc.reflection).
    const shopContracts = files.filter((file) => file.startsWith("lib/src/") && /from "@bazaar\/gen\/bazaar\//.test(readFileSync(join(repoRoot, file), "utf8")));
    expect(shopContracts).toEqual([]);
    // The runtime's own tests use nothing of the shop either: the tests that need a service, a shop
    // contract or the shop's files run the runtime from test/runtime.
    const runtimeTests = readdirSync(join(repoRoot, "lib/test"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => join("lib/test", file));
    expect(stringLiteralsOf(readFileSync(join(repoRoot, "lib/test/support/postgres.ts"), "utf8"))).toContain("../../src/db/postgres-cluster.js");
    const testsReaching = runtimeTests.flatMap((file) => shopReachedBy(file, readFileSync(join(repoRoot, file), "utf8")).map((target) => `${file} -> ${target}`));
    expect(testsReaching).toEqual([]);
  });

  it("would notice a runtime test reaching the shop, however it reaches it", () => {
    const reached = (line: string) => shopReachedBy("lib/test/support/example.ts", line);
    for (const line of [
      'import { events } from "@bazaar/shop/events";',
      'import { OrderPlaced } from "@bazaar/gen/bazaar/orders/v1/events";',
      'import { catalogService } from "@bazaar/catalog/service";',
      'const { events } = await import("@bazaar/shop/events");',
      'import { ensureCertificates } from "../../../scripts/certs/issue.js";',
      "export { catalogService } from '../../../services/catalog/src/service.js';",
      'import "../../../shop/src/events.js";',
      'import { startTestNats } from "../../../test/support/nats.js";',
      'import { OrderPlaced } from "../../../gen/src/bazaar/orders/v1/events.js";',
      'const policy = readFileSync(new URL("../../../deploy/authz-policy.yaml", import.meta.url));',
      'startTestNats({ config: "deploy/nats/nats.conf" });',
      'spawnTs("shop/src/nats-admin.ts", {});',
      'const fixtures = fileURLToPath(new URL("../../../test", import.meta.url));',
    ]) {
      expect(reached(line), line).toHaveLength(1);
    }
    // The runtime, the standard contracts, the tests' own files, the repository's root, and prose.
    const allowed = [
      'import { createClient } from "../../src/grpc/client.js";',
      'import { createClient } from "@bazaar/runtime/grpc/client";',
      'import * as v1 from "@bazaar/gen/grpc/reflection/v1/reflection";',
      'import { freePort } from "./process.js";',
      'export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));',
      'spawnTs("lib/test/fixtures/bare-service.ts", {});',
      '// startTestNats({ config: "deploy/nats/nats.conf" }) in a comment',
      '/** as "deploy/authz-policy.yaml" declares the shop\'s */',
      'describe("the NATS administrator\'s configuration (shop/src/nats-admin.ts)", () => {});',
      'const url = "postgres://catalog:pw@127.0.0.1:5432/catalog";',
      'const logger = createLogger("test", "info");',
    ];
    expect(reached(allowed.join("\n"))).toEqual([]);
  });
});
