import * as grpc from "@grpc/grpc-js";
import { type Faults, SLOW_FAULT_DELAY_MS } from "../faults.js";
import { type Logger } from "../logger.js";
import { grpcServerMetrics, type MethodMetrics, methodMetrics, rpcType } from "../observability/metrics.js";
import { identityOf } from "../security/identity.js";
import { type AuthorizationPolicy } from "../security/policy.js";

/**
 * What every call a service receives passes through, ours and health and
 * reflection alike, decided when the call arrives:
 *
 * - the go-grpc-prometheus server metrics: started, handled by code, handling
 *   time, with each method's metric children bound once rather than looked up
 *   by their labels on every call;
 * - under mutual TLS, the authorization policy: a call goes on only if the
 *   caller's certificate identity may call the method; otherwise it ends
 *   before its handler runs, PERMISSION_DENIED for a known caller outside the
 *   policy, UNAUTHENTICATED for a certificate without an identity (a caller
 *   without a valid certificate never gets this far: the handshake fails).
 * - in a development mesh started with BAZAAR_FAULTS=1 only, the faults
 *   switched on from the console (faults.ts): a call held SLOW_FAULT_DELAY_MS
 *   before its handler, or failed UNAVAILABLE without reaching it.
 *
 * A grpc-js interceptor layer wraps and re-dispatches every event of a call
 * (bench/ measures the hop). So a call gets a layer only when one must act on
 * it: to refuse it, fail it or hold it, or to count a method that does not
 * count itself (health, reflection). The service's own unary methods count
 * their calls in their handler adapter (addUnaryService, `countedByHandler`),
 * and a call to one that nothing stops passes through untouched.
 *
 * The caller's identity is read once per connection. grpc-js builds the auth
 * context on every call from TLSSocket.getPeerCertificate(), which renders the
 * whole certificate each time (bench/analysis.md). The caller cannot change
 * within a connection: TLS 1.3 has no renegotiation, and under TLS 1.2 a
 * renegotiating client must again present a certificate our CA signed, i.e.
 * one whose key it already holds, so a cached identity never grants more than
 * the caller could get by opening a new connection. This must be the server's
 * first (here: only) interceptor: grpc-js hands the first one its base call,
 * which holds the HTTP/2 stream and so the session (a private field;
 * test/security/grpc-mtls.test.ts fails if a grpc-js upgrade moves it, and
 * without it every call simply reads the certificate again).
 */
export interface CallGuard {
  /** The server's one interceptor: every call it receives passes here first. */
  interceptor: grpc.ServerInterceptor;
  /**
   * The metrics of a unary method whose handler adapter counts its own calls
   * (addUnaryService). Its calls get no intercepting layer at all unless one
   * must stop or hold them (a refusal, a fault): a layer wraps and re-dispatches
   * every event of a call, a cost worth removing from the calls that make up a
   * service's traffic (bench/analysis.md, the hop).
   */
  countedByHandler(path: string): MethodMetrics;
}

export function callGuard(options: { policy?: AuthorizationPolicy; logger: Logger; faults?: Faults }): CallGuard {
  const { policy, logger } = options;
  const methods = new Map<string, MethodMetrics>();
  const selfCounted = new Set<string>();
  const metricsOf = (path: string, type: string) => {
    let metrics = methods.get(path);
    if (metrics === undefined) {
      metrics = methodMetrics(grpcServerMetrics, path, type);
      methods.set(path, metrics);
    }
    return metrics;
  };
  const interceptor: grpc.ServerInterceptor = (descriptor, call) => {
    const { path } = descriptor;
    const refusal = policy === undefined ? undefined : refusalOf(call, path, policy);
    // Faults (development only, faults.ts) reach the service's own methods, never health or reflection.
    const fault = options.faults === undefined || path.startsWith("/grpc.") ? undefined : activeFault(options.faults);
    const countsItself = selfCounted.has(path);
    // grpc-js chains interceptors by handing each the previous one's call, so handing back the call we
    // were given adds no layer; its type only admits a new ServerInterceptingCall.
    if (refusal === undefined && fault === undefined && countsItself) return call as grpc.ServerInterceptingCall;

    const metrics = metricsOf(path, rpcType(descriptor));
    const started = performance.now();
    if (!countsItself) metrics.started();
    const record = (code: grpc.status) => metrics.ended(code, performance.now() - started);
    const end = (status: { code: grpc.status; details: string }) => {
      // Straight to the base call, past this layer's sendStatus: counted here, handler or not.
      if (countsItself) metrics.started();
      record(status.code);
      call.sendStatus(status);
    };
    return new grpc.ServerInterceptingCall(call, {
      start:
        refusal === undefined && fault === undefined
          ? undefined
          : (next) =>
              next({
                onReceiveMetadata: (metadata, pass) => {
                  if (refusal !== undefined) {
                    logger.warn({ rpc: path, caller: refusal.caller ?? null, code: grpc.status[refusal.status.code] }, "call refused by the authorization policy");
                    end(refusal.status);
                  } else if (fault === "fail") {
                    end({ code: grpc.status.UNAVAILABLE, details: "failing on purpose: a fault switched on from the development console" });
                  } else {
                    setTimeout(() => pass(metadata), SLOW_FAULT_DELAY_MS);
                  }
                },
              }),
      // A method that counts itself is counted by its handler once the layer lets it through.
      sendStatus: countsItself
        ? undefined
        : (status, next) => {
            record(status.code);
            next(status);
          },
    });
  };
  return {
    interceptor,
    countedByHandler: (path) => {
      selfCounted.add(path);
      return metricsOf(path, "unary");
    },
  };
}

/** The status a call ends with when the policy refuses its caller, or undefined when it may go on. */
function refusalOf(
  call: grpc.ServerInterceptingCallInterface,
  path: string,
  policy: AuthorizationPolicy,
): { caller: string | undefined; status: { code: grpc.status; details: string } } | undefined {
  const caller = callerOf(call);
  if (caller === undefined) return { caller, status: { code: grpc.status.UNAUTHENTICATED, details: "the client certificate names no bazaar identity" } };
  if (!policy.allows(caller, path)) return { caller, status: { code: grpc.status.PERMISSION_DENIED, details: `${caller} may not call ${path.slice(1)}` } };
  return undefined;
}

/** The fault a call meets now: "fail", "slow", or none. */
function activeFault(faults: Faults): "fail" | "slow" | undefined {
  if (faults.remainingMs("fail") > 0) return "fail";
  if (faults.remainingMs("slow") > 0) return "slow";
  return undefined;
}

/** The caller's identity (undefined: none of ours), once per connection. */
const callers = new WeakMap<object, string | undefined>();

function callerOf(call: grpc.ServerInterceptingCallInterface): string | undefined {
  const session = sessionOf(call);
  if (session !== undefined && callers.has(session)) return callers.get(session);
  const identity = identityOf(call.getAuthContext().sslPeerCertificate);
  if (session !== undefined) callers.set(session, identity);
  return identity;
}

/** The HTTP/2 session (one per connection) of grpc-js's base call, if this is one. */
function sessionOf(call: grpc.ServerInterceptingCallInterface): object | undefined {
  const session = (call as { stream?: { session?: unknown } }).stream?.session;
  return typeof session === "object" && session !== null ? session : undefined;
}
