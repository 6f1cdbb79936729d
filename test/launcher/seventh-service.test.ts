import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTransport } from "@bazaar/runtime/security/transport";
import { freshDatabase } from "@bazaar/runtime/testing";
import { testCertificates } from "../support/test-certificates.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import type * as Launch from "../../scripts/launch.js";
import type * as Shop from "../../scripts/shop.js";
import { grpcurl } from "../support/grpcurl.js";
import { MeshProcess } from "../support/service-process.js";

/**
 * Adding a seventh service is writing its folder and adding its module to the
 * list in scripts/shop.ts: shown here on a scratch copy of the repository. The
 * new service (services/hello: a module, main.ts, a migration) is compiled by
 * the build's own command, and the mesh's one launcher starts it with the six
 * others, from that list alone: its ports, its certificate, its database, its
 * place in the start order. Nothing else in the copy is edited.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const HELLO_MODULE = `import { fileURLToPath } from "node:url";
import { defineService } from "@bazaar/runtime/module";
import { serviceConfig } from "@bazaar/shop/config";

/** A service with no API of its own yet: its health, its reflection, its own database. */
export const hello = defineService({
  name: "hello",
  ports: { grpc: 50056, admin: 9056 },
  config: serviceConfig(),
  migrationsDir: fileURLToPath(new URL("../migrations", import.meta.url)),
  grpc: () => [],
});
`;

const HELLO_MAIN = `import { runModule } from "@bazaar/runtime/module";
import { hello } from "./module.js";

await runModule(hello);
`;

/** The edit to scripts/shop.ts: the module's import, and the module in the list. */
function addToShop(source: string): string {
  const list = "export const SHOP_MODULES = [catalog, inventory, payments, notifications, orders] as const;";
  if (!source.includes(list)) throw new Error("scripts/shop.ts no longer lists its modules as this test expects: update the test");
  return source
    .replace(`import { catalog } from "../services/catalog/src/module.js";`, (line) => `${line}\nimport { hello } from "../services/hello/src/module.js";`)
    .replace(list, list.replace("orders]", "orders, hello]"));
}

/** A copy of what the launcher and the services are made of; the packages they import stay the repository's (built). */
function scratchCopy(): string {
  const scratch = mkdtempSync(join(tmpdir(), "bazaar-seventh-"));
  for (const path of ["scripts", "services", "deploy", "package.json", "tsconfig.base.json"]) cpSync(join(ROOT, path), join(scratch, path), { recursive: true });
  for (const path of ["node_modules", "gen", "lib", "shop"]) symlinkSync(join(ROOT, path), join(scratch, path));
  return scratch;
}

function writeHello(scratch: string): void {
  const folder = join(scratch, "services", "hello");
  mkdirSync(join(folder, "src"), { recursive: true });
  mkdirSync(join(folder, "migrations"));
  const catalog = JSON.parse(readFileSync(join(scratch, "services", "catalog", "package.json"), "utf8")) as { dependencies: Record<string, string> };
  writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "@bazaar/hello", private: true, type: "module", dependencies: catalog.dependencies }, null, 2));
  cpSync(join(scratch, "services", "catalog", "tsconfig.json"), join(folder, "tsconfig.json"));
  writeFileSync(join(folder, "src", "module.ts"), HELLO_MODULE);
  writeFileSync(join(folder, "src", "main.ts"), HELLO_MAIN);
  writeFileSync(join(folder, "migrations", "001_create_greetings.sql"), "create table greetings (id text primary key, said_at timestamptz not null default now());\n");
}

describe("a seventh service", () => {
  let scratch: string;
  let nats: TestNats | undefined;
  let mesh: Launch.LaunchedMesh<Launch.LaunchedProcess> | undefined;
  const processes = new Map<string, MeshProcess>();

  beforeAll(async () => {
    scratch = scratchCopy();
    writeHello(scratch);
    const shopFile = join(scratch, "scripts", "shop.ts");
    writeFileSync(shopFile, addToShop(readFileSync(shopFile, "utf8")));
    // The build's own command (package.json "build"), in the copy: it finds every service by its folder.
    const build = JSON.parse(readFileSync(join(scratch, "package.json"), "utf8")) as { scripts: { build: string } };
    const built = spawnSync("sh", ["-c", `npx ${build.scripts.build}`], { cwd: scratch, encoding: "utf8" });
    expect(built.status, `${built.stdout}${built.stderr}`).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await Promise.all([...processes.values()].map((child) => child.stop()));
    await nats?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("is started by the launcher with the others from its entry in the list, with its certificate, database and migrations", async () => {
    const shop = (await import(join(scratch, "scripts", "shop.ts"))) as typeof Shop;
    const launch = (await import(join(scratch, "scripts", "launch.ts"))) as typeof Launch;
    expect(shop.SERVICE_NAMES).toContain("hello");
    expect((shop.PORTS as Record<string, unknown>).hello).toEqual({ grpc: 50056, admin: 9056 });

    const tlsDir = testCertificates(shop.MESH_IDENTITIES);
    nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: tlsDir });
    const launched = await launch.launchMesh({
      placement: { natsUrl: nats.url, tlsDir, env: { SHUTDOWN_GRACE_MS: "5000" } },
      place: async (module) => ({ grpc: "127.0.0.1:0", admin: "127.0.0.1:0", databaseUrl: await freshDatabase(`seventh_${module.name}`) }),
      edgeHttpAddress: "127.0.0.1:0",
      run: async (name, env, module) => {
        const child = new MeshProcess(name, env, module ? launch.consumersOf(module) : [], launch.entryOf(name));
        processes.set(name, child);
        await child.start();
        return { grpcAddress: child.address || undefined, stop: () => child.stop() };
      },
    });
    mesh = launched;

    expect([...launched.processes.keys()].sort()).toEqual([...shop.SERVICE_NAMES, "gateway"].sort());
    const hello = processes.get("hello")!;
    // Its own database, fresh: the runtime's tables, then its own migration.
    const applied = hello.logged("database ready")[0]?.migrations_applied as string[];
    expect(applied.at(-1)).toBe("001_create_greetings.sql");
    // grpcurl's way in: reflection, then health, over mutual TLS with the operator's certificate.
    const asOperator = createTransport({ TLS_MODE: "mtls", TLS_DIR: tlsDir }, "operator").client("hello");
    expect(await grpcurl(launched.grpc.hello!, "grpc.health.v1.Health/Check", {}, asOperator)).toEqual({ status: "SERVING" });
  }, 180_000);
});
