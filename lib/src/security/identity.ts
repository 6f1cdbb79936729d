import { type PeerCertificate } from "node:tls";

/**
 * Who a peer is, from its certificate: the SPIFFE-style URI SAN
 * spiffe://bazaar.local/<name> that the development CA writes
 * (scripts/certs/issue.ts). A URI, not the CN or a DNS name, so an identity
 * can't be confused with where the peer happens to be reachable.
 */
const TRUST_DOMAIN = "bazaar.local";
const PREFIX = `spiffe://${TRUST_DOMAIN}/`;
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function identityUri(name: string): string {
  if (!NAME.test(name)) throw new Error(`not an identity name: ${JSON.stringify(name)} (lowercase letters, digits, dashes)`);
  return `${PREFIX}${name}`;
}

/** The identity name in `cert`, or undefined if it carries none of ours. */
export function identityOf(cert: Pick<PeerCertificate, "subjectaltname"> | undefined): string | undefined {
  // Node renders SANs as "DNS:a, URI:spiffe://..., IP Address:..."; values can't contain ", " unquoted.
  for (const entry of cert?.subjectaltname?.split(", ") ?? []) {
    if (!entry.startsWith(`URI:${PREFIX}`)) continue;
    const name = entry.slice(`URI:${PREFIX}`.length);
    if (NAME.test(name)) return name;
  }
  return undefined;
}
