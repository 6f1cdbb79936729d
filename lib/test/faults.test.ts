import { describe, expect, it } from "vitest";
import { baseServiceConfig, ConfigError, parseConfig } from "../src/config.js";
import { Faults, MAX_FAULT_SECONDS } from "../src/faults.js";

// Faults on purpose (faults.ts): what a process remembers and who may switch them
// on (the config); what a call meets while one is on: test/runtime/faults.test.ts.

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("Faults", () => {
  it("holds a fault for the seconds it was given, then lets it expire by itself", () => {
    const clock = manualClock();
    const faults = new Faults(clock.now);
    expect(faults.active()).toEqual([]);
    expect(faults.remainingMs("slow")).toBe(0);

    faults.set("slow", 30);
    expect(faults.remainingMs("slow")).toBe(30_000);
    expect(faults.active()).toEqual([{ kind: "slow", secondsLeft: 30 }]);

    clock.advance(29_500);
    expect(faults.remainingMs("slow")).toBe(500);
    expect(faults.active()).toEqual([{ kind: "slow", secondsLeft: 1 }]);

    clock.advance(500);
    expect(faults.remainingMs("slow")).toBe(0);
    expect(faults.active()).toEqual([]);
  });

  it("keeps each kind apart, and clears one without touching the others", () => {
    const faults = new Faults(manualClock().now);
    faults.set("fail", 10);
    faults.set("pause-consumers", 20);
    expect(faults.active()).toEqual([
      { kind: "fail", secondsLeft: 10 },
      { kind: "pause-consumers", secondsLeft: 20 },
    ]);

    faults.clear("fail");
    expect(faults.remainingMs("fail")).toBe(0);
    expect(faults.active()).toEqual([{ kind: "pause-consumers", secondsLeft: 20 }]);
    faults.clear("slow"); // never on: nothing to do
    expect(faults.active()).toEqual([{ kind: "pause-consumers", secondsLeft: 20 }]);
  });

  it("replaces an earlier expiry, shorter or longer, rather than adding to it", () => {
    const clock = manualClock();
    const faults = new Faults(clock.now);
    faults.set("fail", 60);
    clock.advance(10_000);
    faults.set("fail", 5);
    expect(faults.remainingMs("fail")).toBe(5_000);
    faults.set("fail", 120);
    expect(faults.remainingMs("fail")).toBe(120_000);
  });

  it("can be switched on again after it expired", () => {
    const clock = manualClock();
    const faults = new Faults(clock.now);
    faults.set("slow", 1);
    clock.advance(1_000);
    expect(faults.active()).toEqual([]);
    faults.set("slow", 2);
    expect(faults.active()).toEqual([{ kind: "slow", secondsLeft: 2 }]);
  });

  it.each([0, -1, 1.5, MAX_FAULT_SECONDS + 1, Number.NaN, Infinity, "30", null, undefined])(
    "refuses %j seconds, naming `seconds`, and leaves the fault as it was",
    (seconds) => {
      const faults = new Faults(manualClock().now);
      faults.set("slow", 10);
      expect(() => faults.set("slow", seconds as number)).toThrow(RangeError);
      expect(() => faults.set("slow", seconds as number)).toThrow(`seconds: expected a whole number from 1 to ${MAX_FAULT_SECONDS}`);
      expect(faults.active()).toEqual([{ kind: "slow", secondsLeft: 10 }]);
    },
  );

  it("takes the bounds themselves: 1 and MAX_FAULT_SECONDS", () => {
    const faults = new Faults(manualClock().now);
    faults.set("slow", 1);
    faults.set("fail", MAX_FAULT_SECONDS);
    expect(faults.active()).toEqual([
      { kind: "slow", secondsLeft: 1 },
      { kind: "fail", secondsLeft: MAX_FAULT_SECONDS },
    ]);
  });
});

describe("BAZAAR_FAULTS in a service's configuration", () => {
  const schema = baseServiceConfig({ policyFile: "/etc/bazaar/authz-policy.yaml" });
  const base = { GRPC_ADDR: "127.0.0.1:0", ADMIN_ADDR: "127.0.0.1:0", DATABASE_URL: "postgres://catalog@127.0.0.1:5432/catalog" };

  it("is off unless asked for", () => {
    expect(parseConfig(schema, base).BAZAAR_FAULTS).toBe(false);
  });

  it.each([undefined, "0", "false"])("is refused without development mode (BAZAAR_DEV_MODE=%s), naming both variables", (devMode) => {
    let message = "";
    try {
      parseConfig(schema, { ...base, BAZAAR_FAULTS: "1", BAZAAR_DEV_MODE: devMode });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain("BAZAAR_FAULTS: faults on purpose are for development meshes only");
    expect(message).toContain("BAZAAR_DEV_MODE=1");
  });

  it.each([
    ["1", "1"],
    ["true", "true"],
  ])("is accepted with BAZAAR_FAULTS=%s and BAZAAR_DEV_MODE=%s", (faults, devMode) => {
    expect(parseConfig(schema, { ...base, BAZAAR_FAULTS: faults, BAZAAR_DEV_MODE: devMode })).toMatchObject({ BAZAAR_FAULTS: true, BAZAAR_DEV_MODE: true });
  });
});
