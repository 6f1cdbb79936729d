import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { ConfigError } from "../config.js";
import { type Logger } from "../logger.js";
import { identityOf } from "./identity.js";

export interface TransportConfig {
  TLS_MODE: "mtls" | "insecure";
  TLS_DIR: string;
}

/** How one process of the mesh talks gRPC: as whom, with which credentials. */
export interface Transport {
  mode: "mtls" | "insecure";
  /** This process's identity (its certificate's), e.g. "orders". */
  identity: string;
  server(): grpc.ServerCredentials;
  /** Credentials to call `peer`; the server must present the certificate of that identity. */
  client(peer: string): grpc.ChannelCredentials;
  /** The certificate files, for other TLS clients (NATS); undefined when insecure. */
  files?: { ca: string; cert: string; key: string };
}

/**
 * The transport for `identity`: mutual TLS with the development (or any) CA in
 * TLS_DIR, or plaintext only when TLS_MODE=insecure says so. Missing files are
 * a configuration error that says how to make them.
 */
export function createTransport(config: TransportConfig, identity: string, logger?: Logger): Transport {
  if (config.TLS_MODE === "insecure") {
    logger?.warn(
      { tls_mode: "insecure" },
      "TLS_MODE=insecure: gRPC is plaintext and callers are not authenticated or authorized; never run it like this outside a test",
    );
    return {
      mode: "insecure",
      identity,
      server: () => grpc.ServerCredentials.createInsecure(),
      client: () => grpc.credentials.createInsecure(),
    };
  }
  const files = { ca: join(config.TLS_DIR, "ca.pem"), cert: join(config.TLS_DIR, `${identity}.pem`), key: join(config.TLS_DIR, `${identity}-key.pem`) };
  const ca = readPem(files.ca);
  const cert = readPem(files.cert);
  const key = readPem(files.key);
  return {
    mode: "mtls",
    identity,
    files,
    // true: a caller without a certificate signed by the CA fails the handshake and never gets a response.
    server: () => grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true),
    client: (peer) =>
      grpc.credentials.createSsl(ca, key, cert, {
        // The peer's identity, not its host name, is what we check: the same
        // service is dialed as 127.0.0.1, a compose host or a cluster DNS name.
        checkServerIdentity: (_host: string, peerCert: PeerCertificate) => {
          const actual = identityOf(peerCert);
          return actual === peer ? undefined : new Error(`expected the server to be ${peer}, its certificate says ${actual ?? "nothing we know"}`);
        },
      }),
  };
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    throw new ConfigError(`TLS_DIR: cannot read ${file}; run \`make certs\` (or set TLS_DIR to a directory with ca.pem, <name>.pem and <name>-key.pem; TLS_MODE=insecure turns TLS off for tests)`);
  }
}
