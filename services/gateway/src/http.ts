import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { status } from "@grpc/grpc-js";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DomainError, notFound } from "@bazaar/runtime/errors";
import { createNodeHttpServer } from "@bazaar/runtime/http-server";
import { type Logger } from "@bazaar/runtime/logger";
import { httpServerMetrics } from "@bazaar/runtime/observability/metrics";
import { extractContext, startSpan } from "@bazaar/runtime/observability/tracing";
import { type Authenticate } from "./bearer.js";
import { badRequest, HttpError, methodNotAllowed, payloadTooLarge, unsupportedMediaType } from "./http-error.js";
import { decodeParams, matchRoute, type RoutePattern } from "./router.js";
import { codeNameOf, domainErrorResponseOf, errorResponseOf, type ErrorBody, isServiceError } from "./status.js";

/** What a handler answers: a status and a JSON body (or `text`, sent as it is, for /metrics). */
export interface Reply {
  status: number;
  body: unknown;
  text?: { contentType: string; content: string };
  headers?: Record<string, string>;
}

/** What a handler sees of a request. */
export interface ApiRequest {
  /** The ":name" parts of the route's pattern, percent-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  header(name: string): string | undefined;
  /** The parsed JSON body; undefined when it is optional and empty. Refuses non-JSON, oversize and malformed bodies. */
  json(options: { required: boolean }): Promise<unknown>;
}

/** What a handler of a customer route sees: the request, and the customer its bearer token proves. */
export interface CustomerRequest extends ApiRequest {
  customerId: string;
}

/**
 * A public route, or a customer route: one that answers only a request with a
 * valid bearer token (checked before anything else of the request is read).
 */
export type Route =
  | (RoutePattern & { customer?: false; handle(request: ApiRequest): Promise<Reply> })
  | (RoutePattern & { customer: true; handle(request: CustomerRequest): Promise<Reply> });

/** Every body the gateway accepts is a small JSON document; anything bigger is refused unread. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Routes whose log lines go to debug: probes run every few seconds and would drown the traffic. */
const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * The HTTP server: route, run the handler, answer JSON, log one line. Errors
 * become the one error body: the gateway's own refusals (HttpError), a
 * service's status (mapped in status.ts), or a bug here (500, logged with its
 * stack). `isDraining` makes every answer close its connection during shutdown,
 * so keep-alive clients move on to another replica.
 */
export function createHttpServer(routes: readonly Route[], logger: Logger, isDraining: () => boolean, authenticate: Authenticate): Server {
  return createNodeHttpServer((request, response) => {
    const started = performance.now();
    const method = request.method ?? "GET";
    const { path, query } = splitTarget(request.url ?? "/");
    const log: Record<string, unknown> = { method, route: null };
    // One server span per request, continuing the caller's trace if it sent a traceparent.
    const span = startSpan(`${method} ${path}`, SpanKind.SERVER, { "http.request.method": method }, extractContext(request.headers));
    const active = trace.setSpan(context.active(), span);
    // The request's line is written on "close", outside the span's context: name the trace explicitly.
    log.trace_id = span.spanContext().traceId;
    log.span_id = span.spanContext().spanId;
    response.on("close", () => {
      const route = typeof log.route === "string" ? log.route : "unmatched";
      const code = response.headersSent ? response.statusCode : 0;
      httpServerMetrics.requests.inc({ method, route, code: String(code) });
      httpServerMetrics.duration.observe({ method, route }, (performance.now() - started) / 1000);
      span.updateName(`${method} ${route}`);
      span.setAttribute("http.response.status_code", code);
      if (code >= 500 || code === 0) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const line = { ...log, status: response.headersSent ? response.statusCode : null, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 };
      if (!response.writableFinished) logger.warn({ ...line, aborted: true }, "http request");
      else if (response.statusCode >= 500) logger.warn(line, "http request");
      else if (PROBES.has(path)) logger.debug(line, "http request");
      else logger.info(line, "http request");
    });

    void context.with(active, async (): Promise<Reply> => {
      const match = matchRoute(routes, method, path);
      if (match.kind !== "found") {
        log.path = path;
        throw match.kind === "none" ? notFound(`no such path: ${path}`) : methodNotAllowed(method, match.allow);
      }
      const { route } = match;
      log.route = route.pattern;
      const apiRequest = (): ApiRequest => ({
        params: decodeParams(match.params),
        query,
        header: (name) => headerValue(request, name),
        json: (options) => readJson(request, options),
      });
      if (!route.customer) return route.handle(apiRequest());
      // Who asks comes first: a request without a valid token learns nothing from its path or body.
      const customerId = await authenticate(headerValue(request, "authorization"));
      return route.handle({ ...apiRequest(), customerId });
    })
      .catch((error: unknown) => errorReply(error, log, logger))
      .then((reply) => send(response, reply, isDraining()))
      // Last resort: a failure to answer must cost this one connection, never the process.
      .catch((error: unknown) => {
        logger.error({ err: error, ...log }, "could not send the answer");
        response.destroy();
      });
  });
}

/** Split the request target without new URL(): "//host/x" must stay a path, never become a host. */
function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const mark = target.indexOf("?");
  return mark < 0 ? { path: target, query: new URLSearchParams() } : { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : value;
}

function errorReply(error: unknown, log: Record<string, unknown>, logger: Logger): Reply {
  if (error instanceof HttpError) {
    const body: ErrorBody = { error: { code: codeNameOf(error.code), message: error.message } };
    return { status: error.httpStatus, body, headers: { ...error.headers } };
  }
  if (error instanceof DomainError) return domainErrorResponseOf(error);
  if (isServiceError(error)) {
    // The service's own words stay in our log, whatever the client is shown.
    log.grpc_code = codeNameOf(error.code);
    if (error.code !== status.INVALID_ARGUMENT && error.code !== status.NOT_FOUND) log.grpc_message = error.details;
    return errorResponseOf(error);
  }
  logger.error({ err: error, ...log }, "unhandled error in gateway handler");
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal error" } } satisfies ErrorBody };
}

function send(response: ServerResponse, reply: Reply, closeConnection: boolean): void {
  // The client may be gone, or shutdown may have cut the connection: nobody to answer.
  if (response.destroyed || response.headersSent) return;
  const text = reply.text?.content ?? JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    ...reply.headers,
    "content-type": reply.text?.contentType ?? "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...(closeConnection ? { connection: "close" } : {}),
  });
  response.end(text);
}

/** application/json, or any application/*+json; parameters such as charset are ignored. */
function isJson(contentType: string): boolean {
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[\w.+-]+\+json$/.test(mediaType);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function readJson(request: IncomingMessage, { required }: { required: boolean }): Promise<unknown> {
  const contentType = request.headers["content-type"];
  if (contentType !== undefined && !isJson(contentType)) throw unsupportedMediaType(contentType);
  const bytes = await readBody(request, BODY_LIMIT_BYTES);
  if (bytes.length === 0) {
    if (required) throw badRequest("a JSON body is required");
    return undefined;
  }
  if (contentType === undefined) throw unsupportedMediaType(contentType);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("body is not valid UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The whole body, at most `limit` bytes. A declared Content-Length over the
 * limit is refused before reading; a body that grows past it (chunked) is
 * refused as soon as it does. Either way node:http discards what is left and
 * the 413 closes the connection, so a client can make us neither buffer nor
 * read much more than the limit.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers["content-length"] ?? 0) > limit) return Promise.reject(payloadTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: () => void) => {
      request.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(() => reject(payloadTooLarge(limit)));
      chunks.push(chunk);
    };
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks)));
    const onError = (error: Error) => finish(() => reject(error));
    // The client hung up mid-body: nobody will read an answer, but the handler must still end.
    const onClose = () => finish(() => reject(badRequest("the client closed the connection before sending the whole body")));
    request.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
  });
}

/**
 * Stop accepting connections and wait for in-flight requests to be answered
 * (each answer closes its connection, see createHttpServer); past `graceMs`,
 * cut what is left. Resolves true if everything finished in time.
 */
export function closeServer(server: Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve(false);
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve(true);
    });
    // Keep-alive connections with no request in flight would hold close() open until they time out.
    server.closeIdleConnections();
  });
}
