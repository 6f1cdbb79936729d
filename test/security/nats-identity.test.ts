import { copyFileSync, mkdtempSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthorizationError, connect, type NatsConnection } from "@nats-io/transport-node";
import { connectNats, type NatsTls, natsTlsOptions } from "@bazaar/runtime/events/nats";
import { createLogger } from "@bazaar/runtime/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshCertificates } from "../support/certs.js";
import { startTestNats, type TestNats } from "../support/nats.js";
import { certificateFiles, ensureCertificates } from "../../scripts/certs/issue.js";
import { mismatchedCertificate } from "./support/mismatched-certificate.js";
import { SERVICES } from "./support/nats-needs.js";

// deploy/nats/nats.conf on a real nats-server (2.9, as Debian ships), with
// certificates from a test CA: who may connect at all, and as which user.

const TLS_DIR = meshCertificates();
const logger = createLogger("nats-identity-test", process.env.LOG_LEVEL ?? "silent");
const tlsOf = (identity: string, dir = TLS_DIR): NatsTls => certificateFiles(dir, identity);
/** Certificate files as nats.js takes them. */

/**
 * How a client sees the server refuse its certificate in the handshake: the
 * TLS alert, or (TLS 1.3, where the client may finish its side first and start
 * talking) a reset when the server drops the connection. OpenSSL 3.5 (Node 24)
 * names the alert "SSL/TLS" where 3.0 (Node 22) says "SSLV3".
 */
const HANDSHAKE_REFUSED = /^(ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_BAD_CERTIFICATE|ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/;

let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats({ config: "deploy/nats/nats.conf", certs: TLS_DIR });
});
afterAll(async () => {
  await nats?.stop();
});

/** One attempt to connect, no retries: for clients that must be refused. Resolves to the error, or undefined if it got in. */
async function refusedConnect(name: string, tls: Partial<NatsTls>): Promise<Error | undefined> {
  return connect({ servers: nats.url, name, tls: natsTlsOptions(tls), reconnect: false, timeout: 10_000 }).then(
    async (connection) => void (await connection.close()),
    (error: Error) => error,
  );
}

/** The NATS user the server mapped the connection named `name` to. */
async function userOf(name: string): Promise<string | undefined> {
  return (await nats.connections()).find((connection) => connection.name === name)?.user;
}

/** Speak plain NATS protocol: the server's INFO, then whatever it answers `send` with until it hangs up. */
async function plaintextExchange(send: string): Promise<{ info: Record<string, unknown>; rest: string }> {
  const { hostname, port } = new URL(nats.url);
  const socket = createConnection({ host: hostname, port: Number(port) });
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    if (!text.includes("\r\n")) socket.write(send); // answer the INFO line, once
    text += chunk.toString();
  });
  socket.on("error", () => {});
  await new Promise((resolve) => socket.on("close", resolve));
  const [infoLine, ...rest] = text.split("\r\n");
  return { info: JSON.parse(infoLine!.replace(/^INFO /, "")) as Record<string, unknown>, rest: rest.join("\r\n") };
}

describe("who may connect to NATS, and as whom", () => {
  it("maps each service, connected as the runtime connects it, to the user named like its certificate's DNS SAN", async () => {
    const connections: NatsConnection[] = [];
    for (const service of SERVICES) {
      connections.push(await connectNats(nats.url, service, logger, tlsOf(service)));
      expect(await userOf(service), service).toBe(service);
    }
    for (const connection of connections) await connection.close();
  });

  it("maps by the DNS SAN, not by the subject or the URI SAN (nats-server tries e-mail, DNS, URI SANs, then the subject)", async () => {
    // CN and spiffe://bazaar.local/orders say orders; the one DNS SAN says payments.
    const connection = await connect({ servers: nats.url, name: "mismatched", tls: natsTlsOptions(mismatchedCertificate(TLS_DIR, "orders", "payments")) });
    expect(await userOf("mismatched")).toBe("payments");
    await connection.close();
  });

  it("refuses a plaintext client: TLS comes first", async () => {
    const { info, rest } = await plaintextExchange('CONNECT {"verbose":false}\r\nPING\r\n');
    expect(info).toMatchObject({ tls_required: true, tls_verify: true });
    expect(rest).not.toContain("PONG");
  });

  it("refuses a TLS client without a certificate", async () => {
    const error = await refusedConnect("no-cert", { ca: tlsOf("orders").ca });
    expect((error as { code?: string } | undefined)?.code).toMatch(HANDSHAKE_REFUSED);
    expect(await userOf("no-cert")).toBeUndefined();
  });

  it("refuses a certificate from another CA, even for a known name", async () => {
    const other = mkdtempSync(join(tmpdir(), "bazaar-other-ca-"));
    ensureCertificates(other, ["orders"]);
    copyFileSync(join(TLS_DIR, "ca.pem"), join(other, "ca.pem")); // the client trusts the server; the server must refuse the client
    const error = await refusedConnect("other-ca", tlsOf("orders", other));
    expect((error as { code?: string } | undefined)?.code).toMatch(HANDSHAKE_REFUSED);
    expect(await userOf("other-ca")).toBeUndefined();
  });

  it("maps the operator's certificate to its read-only user", async () => {
    const connection = await connectNats(nats.url, "operator", logger, tlsOf("operator"));
    expect(await userOf("operator")).toBe("operator");
    await connection.close();
  });

  it("refuses a valid certificate that has no NATS user: the gateway, the catalog, the server's own", async () => {
    for (const identity of ["gateway", "catalog", "nats"]) {
      expect(await refusedConnect(identity, tlsOf(identity)), identity).toBeInstanceOf(AuthorizationError);
    }
  });
});
