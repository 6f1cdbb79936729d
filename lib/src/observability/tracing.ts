import { type Attributes, context, isSpanContextValid, propagation, ROOT_CONTEXT, type Context, type Span, type SpanKind, type TextMapGetter, type TextMapSetter, trace, TraceFlags, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { type ExportResult, ExportResultCode, getNumberFromEnv, W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

/**
 * OpenTelemetry tracing, set up once per process. Trace context always flows
 * (W3C traceparent in gRPC metadata, HTTP headers and NATS headers) and every
 * log line carries trace_id and span_id; spans leave the process only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over HTTP, batched). Tests can pass
 * their own span processor (e.g. an in-memory exporter).
 */
let provider: TracerProvider | undefined;
/** Whether spans go anywhere: set by startTracing (undefined before it, when the API's tracer makes no-op spans). */
let recording: boolean | undefined;
/** tracer(), looked up once after startTracing set the provider. */
let bazaarTracer: Tracer | undefined;

export function startTracing(service: string, processors: SpanProcessor[] = []): void {
  if (provider) return;
  const exporting = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const spanProcessors = [...processors, ...(exporting ? [new BatchSpanProcessor(batchOptionsFromEnv(new OtlpExporterOnFirstUse()))] : [])];
  provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors,
    // Nobody to hand spans to: make them non-recording. They still get trace and span ids, which
    // propagate and reach the logs, but cost no attributes, events or timing on every RPC (bench/).
    sampler: spanProcessors.length > 0 ? new ParentBasedSampler({ root: new AlwaysOnSampler() }) : new AlwaysOffSampler(),
  });
  recording = spanProcessors.length > 0;
  // What NodeTracerProvider.register() did before SDK 3: a context manager so the active span
  // follows async calls, the W3C propagator for headers, then the provider itself.
  useAsyncContext();
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  bazaarTracer = undefined;
}

let asyncContext = false;

/**
 * Make OpenTelemetry's context follow async calls (AsyncLocalStorage), once per
 * process. A call's trace and its incoming deadline (grpc/deadline.ts) live in
 * that context, so the server adapter needs it even where tracing never started.
 */
export function useAsyncContext(): void {
  if (asyncContext) return;
  asyncContext = true;
  context.setGlobalContextManager(new LayeredRootContextManager().enable());
}

/** AsyncLocalStorage's context manager, whose context outside any other is a layered root (layeredOn). */
class LayeredRootContextManager extends AsyncLocalStorageContextManager {
  override active(): Context {
    const active = super.active();
    return active === ROOT_CONTEXT ? LAYERED_ROOT : active;
  }
}

/**
 * The batch processor as the OTEL_BSP_* variables of the OpenTelemetry spec set it.
 * SDK 3 no longer reads them itself (its defaults: a batch every 5 s), so the
 * standard knobs would silently stop working without this.
 */
function batchOptionsFromEnv(exporter: SpanExporter): ConstructorParameters<typeof BatchSpanProcessor>[0] {
  const scheduledDelayMillis = getNumberFromEnv("OTEL_BSP_SCHEDULE_DELAY");
  const exportTimeoutMillis = getNumberFromEnv("OTEL_BSP_EXPORT_TIMEOUT");
  const maxQueueSize = getNumberFromEnv("OTEL_BSP_MAX_QUEUE_SIZE");
  const maxExportBatchSize = getNumberFromEnv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  return {
    exporter,
    ...(scheduledDelayMillis === undefined ? {} : { scheduledDelayMillis }),
    ...(exportTimeoutMillis === undefined ? {} : { exportTimeoutMillis }),
    ...(maxQueueSize === undefined ? {} : { maxQueueSize }),
    ...(maxExportBatchSize === undefined ? {} : { maxExportBatchSize }),
  };
}

/**
 * The OTLP/HTTP exporter, loaded when the first batch leaves. Its module and what it
 * pulls in (the OTLP transformer, the logs and metrics SDKs it encodes for) weigh
 * on every service's memory, and most runs export nothing before they are
 * configured to (bench/analysis.md, "Footprint").
 */
class OtlpExporterOnFirstUse implements SpanExporter {
  private exporter: Promise<SpanExporter> | undefined;

  private load(): Promise<SpanExporter> {
    return (this.exporter ??= import("@opentelemetry/exporter-trace-otlp-http").then(({ OTLPTraceExporter }) => new OTLPTraceExporter()));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.load().then(
      (exporter) => exporter.export(spans, resultCallback),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error as Error }),
    );
  }

  async shutdown(): Promise<void> {
    await (await this.exporter)?.shutdown();
  }

  async forceFlush(): Promise<void> {
    await (await this.exporter)?.forceFlush?.();
  }
}

/** Send the spans still buffered (call before exiting). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush().catch(() => {});
}

/** The process's tracer: the API hands out a proxy that follows the provider startTracing sets, so it is looked up once. */
export function tracer(): Tracer {
  return (bazaarTracer ??= trace.getTracer("bazaar"));
}

/**
 * A span under `parent`, given `attributes` only if it records. The SDK cleans
 * the attributes passed to startSpan before sampling decides, so a span that
 * records nothing (every span when none is exported: startTracing) would pay
 * for them on every call. Our samplers do not look at attributes.
 */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context = context.active()): Span {
  if (recording === false) return idsOnlySpan(parent);
  const span = tracer().startSpan(name, { kind }, parent);
  if (span.isRecording()) span.setAttributes(attributes);
  return span;
}

const ids = new RandomIdGenerator();

/**
 * The span the SDK makes when its sampler drops it, as AlwaysOffSampler does
 * whenever nothing is exported: new ids under the parent's trace (or a new
 * trace), unsampled, recording nothing. Made here it skips what the SDK does
 * first on every span, a gRPC call's or an event's (links, attribute cleaning,
 * the sampler, its span metrics); the ids still reach the logs and the calls
 * and events it makes.
 */
function idsOnlySpan(parent: Context): Span {
  const parentSpan = trace.getSpanContext(parent);
  const inTrace = parentSpan !== undefined && isSpanContextValid(parentSpan);
  return trace.wrapSpanContext({
    traceId: inTrace ? parentSpan.traceId : ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: TraceFlags.NONE,
    ...(inTrace && parentSpan.traceState !== undefined ? { traceState: parentSpan.traceState } : {}),
  });
}

/**
 * `parent`, whose setValue makes one small object per value. OpenTelemetry's
 * own context copies its whole Map and makes three closures at every
 * setValue: a served call sets two values (its span, its incoming deadline) and
 * every call it makes one more, and those copies were the largest allocation
 * the server adapter made per call (bench/analysis.md, the hop). The context
 * manager (useAsyncContext) roots every context of the process in one, so
 * whatever derives a context from the active one gets layers. Lookups walk
 * the layers, as many as the values set since the parent: a handful.
 */
export function layeredOn(parent: Context): Context {
  return parent instanceof ContextLayer ? parent : new ContextLayer(parent, undefined, undefined);
}

class ContextLayer implements Context {
  constructor(
    private readonly parent: Context,
    private readonly key: symbol | undefined,
    private readonly value: unknown,
  ) {}

  getValue(key: symbol): unknown {
    return key === this.key ? this.value : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new ContextLayer(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new ContextLayer(this, key, undefined);
  }
}

const LAYERED_ROOT = layeredOn(ROOT_CONTEXT);

/** The OpenTelemetry RPC attributes of a gRPC method's spans (client and server), from its path "/package.Service/Method". */
export function rpcSpanAttributes(path: string): Attributes {
  const [, service = "", method = ""] = path.split("/");
  return { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method };
}

/** The current trace and span ids, for log lines; empty outside a span. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpanContext(context.active());
  return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/** Read and write trace context in a plain string map (gRPC metadata, NATS or HTTP headers). */
export const stringMapGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString() : undefined;
  },
};

export const stringMapSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The trace context found in `carrier` (e.g. incoming headers), as a parent for new spans. */
export function extractContext<Carrier = Record<string, unknown>>(
  carrier: Carrier,
  getter: TextMapGetter<Carrier> = stringMapGetter as TextMapGetter<Carrier>,
): Context {
  return propagation.extract(context.active(), carrier, getter);
}

/** The current trace context as headers (traceparent, tracestate). */
export function injectedHeaders(active: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(active, headers, stringMapSetter);
  return headers;
}
