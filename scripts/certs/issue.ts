/**
 * A development certificate authority for the mesh's mutual TLS: one CA, and a
 * certificate per identity (each service, the NATS server, the operator) signed
 * by it. Used by `make certs` (scripts/certs.ts) and by tests, which issue
 * their own into a temporary directory.
 *
 * An identity is carried as a SPIFFE-style URI SAN, spiffe://bazaar.local/<name>,
 * and as the subject CN; servers authorize callers by it (lib/src/security).
 * DNS and IP SANs cover how the mesh is dialed locally, in compose and in
 * Kubernetes; NATS maps a client to its user by the DNS SAN <name>.
 *
 * A certificate may do only what its identity does (extendedKeyUsage): one that
 * only calls (CLIENT_ONLY_IDENTITIES: the gateway, the people's) cannot stand in
 * for a server. Every other identity serves and calls: the services call each
 * other and NATS, and NATS's nodes dial each other's routes with theirs.
 * Private keys are written 0600 from their first byte; certificates 0644.
 *
 * RSA 2048 because node-forge, the one dependency-free X.509 writer on npm,
 * signs only RSA; key generation uses Node's native crypto.
 */
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import forge from "node-forge";
import { identityUri } from "@bazaar/runtime/security/identity";
import { CLIENT_ONLY_IDENTITIES } from "@bazaar/shop/identities";

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 3650;
const LEAF_DAYS = 825;
/** Private keys: their owner only. Compose runs the containers as that owner (CERTS_UID), Kubernetes mounts them 0440 for the pod's group. */
export const KEY_MODE = 0o600;
/** Certificates and the CA's certificate are public. */
export const CERT_MODE = 0o644;

export interface IssueOptions {
  /** Extra DNS names for every server certificate (e.g. a Kubernetes namespace's service names). */
  namespace?: string;
}

interface Authority {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

/** Paths of an identity's files in a certificate directory. */
export function certificateFiles(dir: string, name: string) {
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`), ca: join(dir, "ca.pem") };
}

/**
 * Make sure `dir` holds ca.pem (+ ca-key.pem) and <name>.pem / <name>-key.pem
 * for every name. Existing files are kept, so running it again only adds what
 * is missing; returns the names it issued now.
 */
export function ensureCertificates(dir: string, names: readonly string[], options: IssueOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  // The directory too: nobody else lists what is in it.
  chmodSync(dir, 0o700);
  const authority = loadOrCreateAuthority(dir);
  const issued: string[] = [];
  for (const name of names) {
    const files = certificateFiles(dir, name);
    if (existsSync(files.cert) && existsSync(files.key)) {
      keepPrivate(files.key);
      continue;
    }
    const { cert, key } = issueLeaf(authority, name, options);
    writeAtomically(files.key, key, KEY_MODE);
    writeAtomically(files.cert, cert, CERT_MODE);
    issued.push(name);
  }
  return issued;
}

/**
 * Write `file` whole or not at all, with `mode` from its first byte: a temporary
 * file in the same directory, created with the mode (and fchmod, so no umask
 * changes it), then renamed over the target. A key is never readable by
 * others, not even for a moment, and an interrupted run leaves no half-written file.
 */
function writeAtomically(file: string, content: string, mode: number): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, "wx", mode);
    try {
      fchmodSync(fd, mode);
      writeFileSync(fd, content);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** A key from an earlier run (once written 0644) is narrowed to its owner; anything else about it is kept. */
function keepPrivate(keyFile: string): void {
  if ((statSync(keyFile).mode & 0o777) !== KEY_MODE) chmodSync(keyFile, KEY_MODE);
}

function loadOrCreateAuthority(dir: string): Authority {
  const certFile = join(dir, "ca.pem");
  const keyFile = join(dir, "ca-key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) {
    keepPrivate(keyFile);
    return {
      cert: forge.pki.certificateFromPem(readFileSync(certFile, "utf8")),
      key: forge.pki.privateKeyFromPem(readFileSync(keyFile, "utf8")) as forge.pki.rsa.PrivateKey,
    };
  }
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  const subject = [{ name: "commonName", value: "Bazaar development CA" }, { name: "organizationName", value: "Bazaar" }];
  prepare(cert, keys.publicKey, CA_DAYS);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  writeAtomically(keyFile, forge.pki.privateKeyToPem(keys.privateKey), KEY_MODE);
  writeAtomically(certFile, forge.pki.certificateToPem(cert), CERT_MODE);
  return { cert, key: keys.privateKey };
}

function issueLeaf(authority: Authority, name: string, options: IssueOptions): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  prepare(cert, keys.publicKey, LEAF_DAYS);
  cert.setSubject([{ name: "commonName", value: name }, { name: "organizationName", value: "Bazaar" }]);
  cert.setIssuer(authority.cert.subject.attributes);
  const serves = !CLIENT_ONLY_IDENTITIES.has(name);
  const dnsNames = serves ? [name, "localhost", ...(options.namespace ? [`${name}.${options.namespace}`, `${name}.${options.namespace}.svc`, `${name}.${options.namespace}.svc.cluster.local`] : [])] : [name];
  // NATS's cluster routes dial each pod by its headless name (deploy/k8s/base/nats.conf) and check it.
  if (name === "nats") dnsNames.push(...natsRouteNames(options.namespace));
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: serves, clientAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 6, value: identityUri(name) },
        ...dnsNames.map((value) => ({ type: 2, value })),
        ...(serves ? [{ type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }] : []),
      ],
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: authority.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(authority.key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/**
 * The names the Kubernetes NATS pods route to each other by: nats-<n>.nats-headless
 * for each pod of the StatefulSet (3), also with the namespace's suffixes. Named one
 * by one: a wildcard over a single-label parent (*.nats-headless) is refused by
 * OpenSSL and Node, whatever nats-server would accept.
 */
export function natsRouteNames(namespace?: string): string[] {
  const pods = [0, 1, 2].map((index) => `nats-${index}.nats-headless`);
  const suffixes = ["", ...(namespace ? [`.${namespace}`, `.${namespace}.svc`, `.${namespace}.svc.cluster.local`] : [])];
  return pods.flatMap((pod) => suffixes.map((suffix) => pod + suffix));
}

/** Serial, validity (backdated an hour for clock skew), public key. */
function prepare(cert: forge.pki.Certificate, publicKey: forge.pki.PublicKey, days: number): void {
  cert.publicKey = publicKey;
  // Positive 128-bit serial: random, so certificates from two runs never collide.
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + days * DAY_MS);
}
