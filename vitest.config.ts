import { defineConfig } from "vitest/config";

export default defineConfig({
  // Resolve workspace packages (@bazaar/runtime, @bazaar/gen) to their TypeScript
  // sources, so tests never run against a stale dist/.
  resolve: { conditions: ["bazaar-source"] },
  ssr: { resolve: { conditions: ["bazaar-source"] } },
  test: {
    include: ["lib/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // One throwaway PostgreSQL cluster for the run; every test takes fresh databases from it.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real servers and processes; two cores are shared by all of them.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
