import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BoundCounter, BoundHistogram } from "../src/observability/bound-metrics.js";

/** The same observations through prom-client's own metrics and through bound series: the scrapes must match. */
function pair() {
  const own = new Registry();
  const bound = new Registry();
  const labelNames = ["method", "code"] as const;
  const buckets = [0.001, 0.01, 0.1, 1];
  return {
    own,
    bound,
    counter: new Counter({ name: "calls_total", help: "Calls.", labelNames, registers: [own] }),
    boundCounter: new BoundCounter({ name: "calls_total", help: "Calls.", labelNames, registers: [bound] }),
    histogram: new Histogram({ name: "call_seconds", help: "Call time.", labelNames: ["method"], buckets, registers: [own] }),
    boundHistogram: new BoundHistogram({ name: "call_seconds", help: "Call time.", labelNames: ["method"], buckets, registers: [bound] }),
  };
}

describe("bound metrics", () => {
  it("scrape exactly as prom-client's own counter and histogram given the same calls", async () => {
    const metrics = pair();
    const calls: Array<[string, string, number]> = [
      ["Get", "OK", 0.0004],
      ["Get", "OK", 0.001],
      ["Get", "NOT_FOUND", 0.02],
      ["List", "OK", 0.5],
      ["List", "OK", 3],
      ["Get", "OK", 0.0999],
    ];
    const bound = new Map<string, { inc(): void; observe(seconds: number): void }>();
    for (const [method, code, seconds] of calls) {
      metrics.counter.inc({ method, code });
      metrics.histogram.observe({ method }, seconds);
      const key = `${method} ${code}`;
      if (!bound.has(key)) {
        // Bound twice on purpose: the same labels give the same series.
        metrics.boundCounter.bind({ method, code });
        bound.set(key, { ...metrics.boundCounter.bind({ method, code }), ...metrics.boundHistogram.bind({ method }) });
      }
      bound.get(key)!.inc();
      bound.get(key)!.observe(seconds);
    }
    expect(await metrics.bound.metrics()).toBe(await metrics.own.metrics());
    expect((await metrics.boundHistogram.get()).values).toEqual((await metrics.histogram.get()).values);
    expect((await metrics.boundCounter.get()).values).toEqual((await metrics.counter.get()).values);
  });

  it("start again from zero on reset, like any other metric", async () => {
    const metrics = pair();
    const calls = metrics.boundCounter.bind({ method: "Get", code: "OK" });
    const time = metrics.boundHistogram.bind({ method: "Get" });
    calls.inc();
    time.observe(0.5);
    metrics.bound.resetMetrics();
    calls.inc();
    time.observe(0.005);
    metrics.counter.inc({ method: "Get", code: "OK" });
    metrics.histogram.observe({ method: "Get" }, 0.005);
    expect(await metrics.bound.metrics()).toBe(await metrics.own.metrics());
  });
});
