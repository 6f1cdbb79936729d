import { describe, expect, it } from "vitest";
import { ExpiringMap, leastTimeLeft } from "../src/expiring-map.js";
import { durationOfMs, msOfDuration } from "../src/proto-duration.js";

describe("ExpiringMap", () => {
  it("answers an entry until its expiry, then never again", () => {
    const map = new ExpiringMap<string, number>(10);
    map.set("a", 1, 1000);
    expect(map.get("a", 999)).toBe(1);
    expect(map.lookup("a", 0)).toEqual({ value: 1, expiresAt: 1000 });
    expect(map.get("a", 1000)).toBeUndefined();
    expect(map.size).toBe(0);
    expect(map.get("a", 0)).toBeUndefined();
  });

  it("when full, drops the entry set longest ago; setting a key again makes it the newest", () => {
    const map = new ExpiringMap<string, number>(2);
    map.set("a", 1, 100);
    map.set("b", 2, 100);
    map.set("a", 3, 100);
    map.set("c", 4, 100);
    expect([map.get("a", 0), map.get("b", 0), map.get("c", 0)]).toEqual([3, undefined, 4]);
    expect(map.size).toBe(2);
  });

  it("refuses a capacity under one", () => {
    expect(() => new ExpiringMap(0)).toThrow(/capacity must be at least 1, got 0/);
  });
});

describe("leastTimeLeft", () => {
  it("is the least time any looked-up entry has left, and unbounded for none", () => {
    const map = new ExpiringMap<string, number>(10);
    map.set("a", 1, 1_500);
    map.set("b", 2, 1_200);
    const entries = ["a", "b"].map((key) => map.lookup(key, 1_000)!);
    expect(leastTimeLeft(entries, 1_000)).toBe(200);
    expect(leastTimeLeft([], 1_000)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("google.protobuf.Duration in milliseconds", () => {
  it("converts whole milliseconds both ways; negative becomes zero, unset is zero", () => {
    expect(durationOfMs(61_234.9)).toEqual({ seconds: 61, nanos: 234_000_000 });
    expect(msOfDuration(durationOfMs(61_234))).toBe(61_234);
    expect(durationOfMs(-5)).toEqual({ seconds: 0, nanos: 0 });
    expect(msOfDuration(undefined)).toBe(0);
  });
});
