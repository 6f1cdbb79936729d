import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { identityUri } from "@bazaar/runtime/security/identity";

/**
 * A client certificate signed by the CA in `certsDir` whose names disagree:
 * subject CN and URI SAN say `commonName`, the only DNS SAN says `dnsName`.
 * `make certs` never issues one; a test uses it to see which name nats-server
 * maps to a user. Returns the paths of ca.pem and the new cert and key.
 */
export function mismatchedCertificate(certsDir: string, commonName: string, dnsName: string): { ca: string; cert: string; key: string } {
  const caCert = forge.pki.certificateFromPem(readFileSync(join(certsDir, "ca.pem"), "utf8"));
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(certsDir, "ca-key.pem"), "utf8"));
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
    { name: "subjectAltName", altNames: [{ type: 6, value: identityUri(commonName) }, { type: 2, value: dnsName }] },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  const dir = mkdtempSync(join(tmpdir(), "bazaar-mismatched-cert-"));
  const files = { ca: join(certsDir, "ca.pem"), cert: join(dir, "client.pem"), key: join(dir, "client-key.pem") };
  writeFileSync(files.cert, forge.pki.certificateToPem(cert));
  writeFileSync(files.key, forge.pki.privateKeyToPem(keys.privateKey), { mode: 0o600 });
  return files;
}
