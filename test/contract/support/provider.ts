import { status } from "@grpc/grpc-js";
import { type ServiceName } from "../../../scripts/shop.js";
import { type ServiceOptions } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamicClient, type DynamicClient, methodsOf } from "./dynamic-client.js";
import { loadExamples, replay } from "./examples.js";

/** Answers that mean "this method is not really there": not registered, or registered without a handler. */
export const MISSING_METHOD = new Set<number>([status.UNIMPLEMENTED, status.INTERNAL, status.UNKNOWN]);

/**
 * Provider verification of one service: start the real service in-process
 * (real gRPC, in-memory PostgreSQL), then through a client built from the
 * .proto sources (1) call every method of the contract and require that none is
 * missing, and (2) replay contracts/examples/<name>.json in order.
 */
export function verifyProvider(name: ServiceName, options: Omit<ServiceOptions, "name" | "config">, env: NodeJS.ProcessEnv = {}): void {
  const examples = loadExamples(name);
  let client: DynamicClient;
  let stop: () => Promise<void> = async () => {};

  describe(`provider ${examples.service} (contracts/examples/${name}.json)`, () => {
    beforeAll(async () => {
      const service = await startTestService(name, options, env);
      stop = service.stop;
      client = dynamicClient(examples.service, service.address);
    });
    afterAll(async () => {
      client?.close();
      await stop();
    });

    it("registers every method of its contract (none UNIMPLEMENTED or without a handler)", async () => {
      const missing: string[] = [];
      for (const method of methodsOf(examples.service)) {
        const outcome = await client.call(method, {});
        if (!outcome.ok && MISSING_METHOD.has(outcome.error.code)) missing.push(`${method}: ${status[outcome.error.code]} ${outcome.error.details}`);
      }
      expect(missing, `${examples.service} does not implement its whole contract`).toEqual([]);
    });

    it("has at least one example per method", () => {
      const covered = new Set(examples.interactions.map((example) => example.method));
      expect(methodsOf(examples.service).filter((method) => !covered.has(method))).toEqual([]);
    });

    const answers = new Map<string, unknown>();
    for (const example of examples.interactions) {
      it(`${example.method}: ${example.name}${example.description ? ` — ${example.description}` : ""}`, async () => {
        const problems = await replay(client, example, answers);
        if (problems.length > 0) {
          throw new Error(`${examples.service}/${example.method} broke example "${example.name}" of contracts/examples/${name}.json:\n  ${problems.join("\n  ")}`);
        }
      });
    }
  });
}
