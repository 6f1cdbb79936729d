import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { RUNTIME_MIGRATIONS } from "@bazaar/runtime/db/migrate";
import { packageDir } from "@bazaar/runtime/package-dir";
import { POLICY_FILE } from "@bazaar/shop/identities";
import { entryOf } from "../../scripts/launch.js";
import { ROOT } from "./support/deploy.js";

/**
 * What every launcher and image runs is a service's bundle (scripts/bundle.ts,
 * made by the build this suite runs after), where every module's
 * import.meta.url is the bundle's: a path a module finds relative to itself
 * must hold from there too.
 */
const SERVICES = readdirSync(join(ROOT, "services")).filter((name) => existsSync(join(ROOT, "services", name, "package.json")));

describe("the services' bundles (scripts/bundle.ts)", () => {
  it.each(SERVICES)("%s: the entry every launcher runs exists, and every path it finds beside itself is there", (name) => {
    const bundle = entryOf(name);
    expect(bundle).toBe(join(ROOT, "services", name, "dist", "main.bundle.js"));
    const relativePaths = [...readFileSync(bundle, "utf8").matchAll(/new URL\(\s*"([^"]+)"\s*,\s*import\.meta\.url\s*\)/g)].map((match) => match[1]!);
    for (const path of relativePaths) expect(existsSync(resolve(dirname(bundle), path)), `${name}'s bundle reads ${path} beside it`).toBe(true);
  });

  it("finds the runtime's migrations and the shop's policy by package, not beside the calling module", () => {
    expect(packageDir("@bazaar/runtime")).toBe(join(ROOT, "lib"));
    expect(RUNTIME_MIGRATIONS).toBe(join(ROOT, "lib", "migrations"));
    expect(readdirSync(RUNTIME_MIGRATIONS).some((file) => file.endsWith(".sql"))).toBe(true);
    expect(POLICY_FILE).toBe(join(ROOT, "deploy", "authz-policy.yaml"));
    expect(existsSync(POLICY_FILE)).toBe(true);
  });
});
