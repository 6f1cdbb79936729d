import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { extractContext, injectedHeaders, startSpan, startTracing, traceFields } from "../src/observability/tracing.js";

// A process that exports no spans (no OTLP endpoint, no processor): its spans only carry ids,
// which must still reach its log lines and continue the caller's trace downstream.
startTracing("unexported-test");

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN = "b7ad6b7169203331";

describe("spans of a process that exports none", () => {
  it("record nothing, and start a trace of their own without a parent", () => {
    const span = startSpan("root", SpanKind.SERVER, { "rpc.system": "grpc" }, ROOT_CONTEXT);
    expect(span.isRecording()).toBe(false);
    const ids = span.spanContext();
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ids.traceId).not.toBe("0".repeat(32));
    expect(ids.traceFlags).toBe(TraceFlags.NONE);
    const other = startSpan("root", SpanKind.SERVER, {}, ROOT_CONTEXT).spanContext();
    expect([other.traceId, other.spanId]).not.toEqual([ids.traceId, ids.spanId]);
  });

  it("continue the caller's trace (and its trace state) under a new span id, in logs and downstream", () => {
    const incoming = extractContext({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: "vendor=1" });
    const span = startSpan("served", SpanKind.SERVER, {}, incoming);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.spanContext().spanId).not.toBe(CALLER_SPAN);
    expect(span.spanContext().traceState?.serialize()).toBe("vendor=1");
    const active = trace.setSpan(incoming, span);
    context.with(active, () => {
      expect(traceFields()).toEqual({ trace_id: TRACE_ID, span_id: span.spanContext().spanId });
      // Downstream: the same trace, this span as the parent, not sampled (nothing here records it).
      expect(injectedHeaders()).toEqual({ traceparent: `00-${TRACE_ID}-${span.spanContext().spanId}-00`, tracestate: "vendor=1" });
    });
  });
});
