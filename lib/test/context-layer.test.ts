import { context, createContextKey, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { injectedHeaders, layeredOn, startTracing } from "../src/observability/tracing.js";

// The active context follows async calls, and headers carry it downstream, once tracing is set up.
startTracing("context-layer-test");

const A = createContextKey("a");
const B = createContextKey("b");

describe("a layered context", () => {
  it("reads what its parent holds, and what was set on it, without changing either", () => {
    const parent = ROOT_CONTEXT.setValue(A, "from parent");
    const layered = layeredOn(parent);
    const withB = layered.setValue(B, 2);
    const overridden = withB.setValue(A, "overridden");
    expect([withB.getValue(A), withB.getValue(B)]).toEqual(["from parent", 2]);
    expect([overridden.getValue(A), overridden.getValue(B)]).toEqual(["overridden", 2]);
    expect([layered.getValue(A), layered.getValue(B)]).toEqual(["from parent", undefined]);
    expect(parent.getValue(B)).toBeUndefined();
  });

  it("forgets a deleted value, its parent's too", () => {
    const layered = layeredOn(ROOT_CONTEXT.setValue(A, 1)).setValue(B, 2);
    expect(layered.deleteValue(A).getValue(A)).toBeUndefined();
    expect(layered.deleteValue(B).getValue(B)).toBeUndefined();
    expect(layered.deleteValue(B).getValue(A)).toBe(1);
  });

  it("is layered once however often it is asked", () => {
    const layered = layeredOn(ROOT_CONTEXT);
    expect(layeredOn(layered)).toBe(layered);
  });

  it("carries a span as OpenTelemetry's own context does: to the active context, and downstream", () => {
    const span = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED });
    const active = trace.setSpan(layeredOn(ROOT_CONTEXT), span);
    expect(trace.getSpan(active)).toBe(span);
    context.with(active, () => {
      expect(trace.getSpan(context.active())).toBe(span);
      expect(injectedHeaders()).toEqual({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    });
  });
});
