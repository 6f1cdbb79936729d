import { events } from "@bazaar/shop/events";
import { SHOP_MODULES } from "../../scripts/shop.js";
import { describe, expect, it } from "vitest";
import { currentRegistry } from "./support/descriptors.js";
import { checkConsumer, formatBreakage, loadConsumers } from "./support/expectations.js";

// Consumer expectations (contracts/consumers/*.json): every method, event and
// field a consumer declares it relies on must still exist in the contracts with
// the same number and type. A failure names the consumer, contract, file and field.

const consumers = loadConsumers();

describe("consumer expectations hold against the current contracts", () => {
  it.each(consumers.map((c) => [c.consumer, c] as const))("%s", (_, expectations) => {
    const broken = checkConsumer(currentRegistry(), expectations).map(formatBreakage);
    if (broken.length > 0) throw new Error(`a contract change breaks consumer "${expectations.consumer}":\n  ${broken.join("\n  ")}`);
  });

  it("covers every consumer that calls a service or consumes an event", () => {
    expect(consumers.map((c) => c.consumer)).toEqual(["gateway", "inventory", "notifications", "orders", "payments"]);
  });
});

describe("declared event expectations match the handlers the services really register", () => {
  const registered: Record<string, string[]> = Object.fromEntries(
    SHOP_MODULES.filter((module) => module.consumes !== undefined).map((module) => [module.name, module.consumes!.map((h) => h.type.subject)]),
  );

  it.each(Object.entries(registered))("%s", (consumer, subjects) => {
    const declared = consumers.find((c) => c.consumer === consumer)?.events?.map((e) => e.subject) ?? [];
    expect(declared.sort(), `contracts/consumers/${consumer}.json must declare exactly the events ${consumer} handles`).toEqual(subjects.sort());
  });

  it("every declared event is bound in the runtime's event catalog with the same message type", () => {
    const bound = new Map(Object.values(events).map((type) => [type.subject, type.typeName]));
    for (const expectations of consumers) {
      for (const event of expectations.events ?? []) expect(bound.get(event.subject), `${expectations.consumer}: ${event.subject}`).toBe(event.message);
    }
  });
});
