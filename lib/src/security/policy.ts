import { readFileSync } from "node:fs";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { parse } from "yaml";
import { ConfigError } from "../config.js";
import { contractRegistry } from "../contracts.js";

/** Which identity may call which method ("/package.Service/Method"), expanded once from the policy file. */
export class AuthorizationPolicy {
  /** Every identity the CA issues, with `anyone`'s methods and its own: a certificate naming anything else gets nothing. */
  constructor(private readonly allowed: ReadonlyMap<string, ReadonlySet<string>>) {}

  allows(identity: string, path: string): boolean {
    return this.allowed.get(identity)?.has(path) ?? false;
  }
}

export function loadPolicy(file: string): AuthorizationPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`AUTHZ_POLICY_FILE: cannot read ${file}: ${(error as Error).message}`);
  }
  return parsePolicy(text, file);
}

/**
 * Parse and check a policy against the compiled contracts: an unknown caller,
 * service or method is an error naming the entry, so a typo can't quietly
 * deny (or allow) something nobody meant.
 */
export function parsePolicy(text: string, source: string): AuthorizationPolicy {
  const fail = (what: string) => new ConfigError(`${source}: ${what}`);
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw fail(`not valid YAML: ${(error as Error).message}`);
  }
  const { identities, anyone = [], callers, ...rest } = (document ?? {}) as { identities?: unknown; anyone?: unknown; callers?: unknown };
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) throw fail(`unknown key ${unknownKeys.join(", ")} (expected identities, anyone, callers)`);
  if (!Array.isArray(identities) || identities.length === 0 || !identities.every((identity) => typeof identity === "string")) {
    throw fail('expected an "identities:" list of every identity the CA issues certificates to');
  }
  const known = identities as string[];
  if (typeof callers !== "object" || callers === null || Array.isArray(callers)) throw fail('expected a "callers:" map of identity to methods');
  const methods = knownMethods();
  const expand = (where: string, entries: unknown) => {
    if (!Array.isArray(entries) || !entries.every((entry) => typeof entry === "string")) {
      throw fail(`${where}: expected a list of "package.Service/Method" entries`);
    }
    const paths = new Set<string>();
    for (const entry of entries as string[]) {
      const matched = matching(entry, methods);
      if (matched.length === 0) throw fail(`${where}: "${entry}" names no method of the contracts`);
      for (const path of matched) paths.add(path);
    }
    return paths;
  };
  const everyone = expand("anyone", anyone);
  const allowed = new Map<string, Set<string>>(known.map((identity) => [identity, new Set(everyone)]));
  for (const [identity, entries] of Object.entries(callers)) {
    const own = allowed.get(identity);
    if (!own) throw fail(`callers.${identity}: unknown identity (identities: ${known.join(", ")})`);
    for (const path of expand(`callers.${identity}`, entries)) own.add(path);
  }
  return new AuthorizationPolicy(allowed);
}

interface KnownMethod {
  path: string;
  service: string;
  reads: boolean;
}

function knownMethods(): KnownMethod[] {
  const methods: KnownMethod[] = [];
  for (const desc of contractRegistry()) {
    if (desc.kind !== "service") continue;
    for (const method of desc.methods) {
      methods.push({
        path: `/${desc.typeName}/${method.name}`,
        service: desc.typeName,
        reads: method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
      });
    }
  }
  return methods;
}

function matching(entry: string, methods: KnownMethod[]): string[] {
  if (entry === "reads") return methods.filter((m) => m.reads).map((m) => m.path);
  const [service, method] = entry.split("/");
  if (method === "*") return methods.filter((m) => m.service === service).map((m) => m.path);
  return methods.filter((m) => m.path === `/${entry}`).map((m) => m.path);
}
