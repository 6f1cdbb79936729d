import * as grpc from "@grpc/grpc-js";
import { type Logger } from "../logger.js";
import { identityOf } from "./identity.js";
import { type AuthorizationPolicy } from "./policy.js";

/**
 * A server interceptor that lets a call through only if the policy allows the
 * caller's certificate identity to call the method; otherwise the call ends
 * before its handler runs: PERMISSION_DENIED for a known caller outside the
 * policy, UNAUTHENTICATED for a certificate without an identity. Under mTLS a
 * caller without a valid certificate never gets this far (the handshake fails).
 * Health, reflection and our services alike go through it.
 */
export function authorizationInterceptor(policy: AuthorizationPolicy, logger: Logger): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const identity = identityOf(call.getAuthContext().sslPeerCertificate);
            if (identity !== undefined && policy.allows(identity, method.path)) {
              pass(metadata);
              return;
            }
            const denied =
              identity === undefined
                ? { code: grpc.status.UNAUTHENTICATED, details: "the client certificate names no bazaar identity" }
                : { code: grpc.status.PERMISSION_DENIED, details: `${identity} may not call ${method.path.slice(1)}` };
            logger.warn({ rpc: method.path, caller: identity ?? null, code: grpc.status[denied.code] }, "call refused by the authorization policy");
            call.sendStatus(denied);
          },
        }),
    });
}
