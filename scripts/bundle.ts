/**
 * The last step of `npm run build`: each service's compiled entry
 * (services/<name>/dist/main.js) and everything it imports, as one file beside
 * it, dist/main.bundle.js, which `make up`, the tests' meshes, the benchmarks
 * and the images run. Node resolves and reads ~730 files to start a service
 * from dist/ (a stat, a package.json lookup and a compile each); from one file
 * the whole mesh starts ~1 s sooner on two cores (bench/analysis.md,
 * "Footprint"). The compiled modules stay: the tests import them, and the
 * bundle is made from exactly what the type check passed.
 *
 * Stack traces name the bundle's lines; dist/main.bundle.js.map maps them back
 * to the sources when a service runs with NODE_OPTIONS=--enable-source-maps.
 *
 * Usage: tsx scripts/bundle.ts   (from the repository's root, after tsc -b)
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/**
 * Loaded from node_modules as before, not bundled: zod and yaml, used while
 * the configuration and the authorization policy are read at start, the OTLP
 * exporter, used only when traces are exported, and @grpc/proto-loader (with
 * protobufjs), which grpc-js requires only to serve channelz, which no service
 * does. Inside, they made the bundle half again as large, and each idle
 * service held ~4 MB more than unbundled (V8's parse of the larger file);
 * outside, ~2 MB less.
 */
const EXTERNAL = ["zod", "yaml", "@opentelemetry/exporter-trace-otlp-http", "@grpc/proto-loader"];

/**
 * The bundle is an ES module, so it has no `require`; the CommonJS packages in
 * it (grpc-js, pg, pino, ...) require Node's own modules by that name.
 */
const REQUIRE = "import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);";

const entries = readdirSync(join(ROOT, "services"))
  .map((name) => join(ROOT, "services", name, "dist", "main.js"))
  .filter((entry) => existsSync(entry));
if (entries.length === 0) throw new Error("no services/*/dist/main.js: run tsc -b first (npm run build does)");

await Promise.all(
  entries.map((entry) =>
    build({
      entryPoints: [entry],
      outfile: join(entry, "..", "main.bundle.js"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      external: EXTERNAL,
      banner: { js: REQUIRE },
      // Smaller to read and parse. Names are not minified, so a stack trace names the code's own functions;
      // keepNames is not needed for that, and it would wrap every function expression in a call that sets
      // its name each time it is made (the server's per-call closures among them).
      minifyWhitespace: true,
      sourcemap: "linked",
      logLevel: "warning",
    }),
  ),
);
