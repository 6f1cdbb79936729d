import { badRequest } from "./http-error.js";

/**
 * Path patterns like "/api/orders/:id/cancel": literal segments match exactly,
 * ":name" matches one non-empty segment (percent-decoded by decodeParams, once
 * the route is known, so a bad one is logged under its route). Small on purpose:
 * the gateway has a handful of routes, and a table of them reads better than
 * a framework's registration calls.
 */
/** What a route answers: a method and a path pattern. */
export interface RoutePattern {
  method: "GET" | "POST";
  /** e.g. "/api/orders/:id/cancel"; also the `route` of the log line, so ids do not spread across log keys. */
  pattern: string;
}

export type RouteMatch<R> =
  | { kind: "found"; route: R; params: Record<string, string> }
  | { kind: "wrong-method"; allow: string[] }
  | { kind: "none" };

export function matchRoute<R extends RoutePattern>(routes: readonly R[], method: string, path: string): RouteMatch<R> {
  const segments = path.split("/");
  // HEAD is GET without a body (node:http drops the body), as HTTP requires.
  const wanted = method === "HEAD" ? "GET" : method;
  const allow: string[] = [];
  for (const route of routes) {
    const params = matchPattern(route.pattern, segments);
    if (params === undefined) continue;
    if (route.method === wanted) return { kind: "found", route, params };
    allow.push(route.method);
  }
  return allow.length > 0 ? { kind: "wrong-method", allow } : { kind: "none" };
}

function matchPattern(pattern: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = pattern.split("/");
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of parts.entries()) {
    const segment = segments[index]!;
    if (part.startsWith(":")) {
      if (segment === "") return undefined;
      params[part.slice(1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}

/** Percent-decode matched params; a malformed one ("%zz") is the client's 400, not our 500. */
export function decodeParams(raw: Record<string, string>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      throw badRequest(`path parameter ${name} is not valid percent-encoding: ${JSON.stringify(value)}`);
    }
  }
  return decoded;
}
