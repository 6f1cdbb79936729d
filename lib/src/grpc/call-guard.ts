import * as grpc from "@grpc/grpc-js";
import { type Faults, SLOW_FAULT_DELAY_MS } from "../faults.js";
import { type Logger } from "../logger.js";
import { grpcServerMetrics, type MethodMetrics, methodMetrics, rpcType } from "../observability/metrics.js";
import { identityOf } from "../security/identity.js";
import { type AuthorizationPolicy } from "../security/policy.js";

/**
 * What every call a service receives passes through, ours and health and
 * reflection alike, as one intercepting layer (each grpc-js interceptor layer
 * wraps and re-dispatches every event of every call; bench/ measures the hop):
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
export function callGuard(options: { policy?: AuthorizationPolicy; logger: Logger; faults?: Faults }): grpc.ServerInterceptor {
  const methods = new Map<string, MethodMetrics>();
  return (descriptor, call) => {
    let metrics = methods.get(descriptor.path);
    if (metrics === undefined) {
      metrics = methodMetrics(grpcServerMetrics, descriptor.path, rpcType(descriptor));
      methods.set(descriptor.path, metrics);
    }
    const started = performance.now();
    metrics.started.inc();
    const record = (code: grpc.status) => {
      metrics.handled(code).inc();
      metrics.handling.observe((performance.now() - started) / 1000);
    };
    const { policy, logger } = options;
    // Faults (development only, faults.ts) reach the service's own methods, never health or reflection.
    const faults = descriptor.path.startsWith("/grpc.") ? undefined : options.faults;
    const end = (status: { code: grpc.status; details: string }) => {
      // Straight to the base call, past this layer's sendStatus: counted here.
      record(status.code);
      call.sendStatus(status);
    };
    return new grpc.ServerInterceptingCall(call, {
      start:
        policy === undefined && faults === undefined
          ? undefined
          : (next) =>
              next({
                onReceiveMetadata: (metadata, pass) => {
                  if (policy !== undefined) {
                    const identity = callerOf(call);
                    if (identity === undefined || !policy.allows(identity, descriptor.path)) {
                      const denied =
                        identity === undefined
                          ? { code: grpc.status.UNAUTHENTICATED, details: "the client certificate names no bazaar identity" }
                          : { code: grpc.status.PERMISSION_DENIED, details: `${identity} may not call ${descriptor.path.slice(1)}` };
                      logger.warn({ rpc: descriptor.path, caller: identity ?? null, code: grpc.status[denied.code] }, "call refused by the authorization policy");
                      end(denied);
                      return;
                    }
                  }
                  if (faults !== undefined && faults.remainingMs("fail") > 0) {
                    end({ code: grpc.status.UNAVAILABLE, details: "failing on purpose: a fault switched on from the development console" });
                  } else if (faults !== undefined && faults.remainingMs("slow") > 0) {
                    setTimeout(() => pass(metadata), SLOW_FAULT_DELAY_MS);
                  } else {
                    pass(metadata);
                  }
                },
              }),
      sendStatus: (status, next) => {
        record(status.code);
        next(status);
      },
    });
  };
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
