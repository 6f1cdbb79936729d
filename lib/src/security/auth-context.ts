import * as grpc from "@grpc/grpc-js";

/**
 * getAuthContext() answered once per connection instead of once per call.
 *
 * grpc-js builds the auth context on every call from Node's
 * TLSSocket.getPeerCertificate(), which renders the whole certificate (subject,
 * SANs, fingerprints, raw bytes) each time, the largest single item in a
 * mutual-TLS server's profile (bench/analysis.md has the figures). The caller cannot
 * change within a connection: TLS 1.3 has no renegotiation, and under TLS 1.2 a
 * renegotiating client must again present a certificate our CA signed, i.e. one
 * whose key it already holds, so a cached identity never grants more than the
 * caller could get by opening a new connection.
 *
 * This interceptor must come first in the server's list: grpc-js hands the
 * first interceptor its base call, which holds the HTTP/2 stream and so the
 * session (a private field; test/security/grpc-mtls.test.ts fails if a grpc-js
 * upgrade moves it, and without it every call simply asks grpc-js again).
 */
export function authContextPerConnection(): grpc.ServerInterceptor {
  return (_method, call) => new ConnectionAuthContextCall(call, sessionOf(call));
}

/** grpc-js does not export its AuthContext type. */
type AuthContext = ReturnType<grpc.ServerInterceptingCallInterface["getAuthContext"]>;

const contexts = new WeakMap<object, AuthContext>();

class ConnectionAuthContextCall extends grpc.ServerInterceptingCall {
  constructor(
    next: grpc.ServerInterceptingCallInterface,
    private readonly session: object | undefined,
  ) {
    super(next);
  }

  override getAuthContext(): AuthContext {
    if (this.session === undefined) return super.getAuthContext();
    let context = contexts.get(this.session);
    if (context === undefined) {
      context = super.getAuthContext();
      contexts.set(this.session, context);
    }
    return context;
  }
}

/** The HTTP/2 session (one per connection) of grpc-js's base call, if this is one. */
function sessionOf(call: grpc.ServerInterceptingCallInterface): object | undefined {
  const session = (call as { stream?: { session?: unknown } }).stream?.session;
  return typeof session === "object" && session !== null ? session : undefined;
}
