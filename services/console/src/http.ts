import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createNodeHttpServer, readSmallBody } from "@bazaar/runtime/http-server";
import { type Logger } from "@bazaar/runtime/logger";
import { type FaultSwitch } from "./faults.js";
import { type LiveChannel } from "./live.js";
import { type Answer, ConsoleInputError } from "./answer.js";
import { DEMO_CUSTOMERS, PAYMENT_TOKENS, type ShopProxy } from "./shop.js";

/** The page: three files, read once, served as they are. */
const PUBLIC = new URL("../public/", import.meta.url);
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  "/console": { file: "index.html", type: "text/html; charset=utf-8" },
  "/console/console.js": { file: "console.js", type: "text/javascript; charset=utf-8" },
  "/console/console.css": { file: "console.css", type: "text/css; charset=utf-8" },
};
/** The page runs only its own script and talks only to its own origin; nothing frames it. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
const BODY_LIMIT_BYTES = 16 * 1024;

export interface ConsoleParts {
  shop: ShopProxy;
  faults: FaultSwitch;
  live: LiveChannel;
  /** What a page opening the stream gets first: the latest map, the recent events. */
  hello(): Array<{ event: string; data: unknown }>;
  isDraining(): boolean;
}

/** The console's HTTP server: the page, its live stream, and its small JSON API. */
export function createConsoleServer(parts: ConsoleParts, logger: Logger): Server {
  const files = Object.fromEntries(Object.entries(PAGE_FILES).map(([path, { file, type }]) => [path, { type, content: readFileSync(new URL(file, PUBLIC)) }]));
  return createNodeHttpServer((request, response) => {
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", "http://console");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    route(parts, files, method, path, url.searchParams, request, response).then(
      (answer) => {
        if (answer !== undefined) sendJson(response, answer);
      },
      (error: unknown) => {
        if (error instanceof ConsoleInputError) return sendJson(response, { status: 400, body: { error: { code: "INVALID_ARGUMENT", message: error.message } } });
        logger.warn({ err: error, method, path }, "console request failed");
        sendJson(response, { status: 502, body: { error: { code: "UNAVAILABLE", message: `the console could not reach the mesh: ${(error as Error).message}` } } });
      },
    );
  });
}

/** Answer the request: undefined when the route wrote the response itself (a file, the stream). */
async function route(
  parts: ConsoleParts,
  files: Record<string, { type: string; content: Buffer }>,
  method: string,
  path: string,
  query: URLSearchParams,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<Answer | undefined> {
  const file = files[path];
  if (method === "GET" && file !== undefined) {
    response.writeHead(200, { ...PAGE_HEADERS, "content-type": file.type, "content-length": file.content.length });
    response.end(file.content);
    return undefined;
  }
  if (method === "GET" && path === "/") {
    response.writeHead(302, { location: "/console" });
    response.end();
    return undefined;
  }
  if (method === "GET" && path === "/healthz") return { status: 200, body: { status: "alive" } };
  if (method === "GET" && path === "/readyz") return parts.isDraining() ? { status: 503, body: { status: "NOT_SERVING" } } : { status: 200, body: { status: "SERVING" } };
  if (method === "GET" && path === "/console/stream") {
    parts.live.open(response, parts.hello());
    return undefined;
  }
  const api = /^\/console\/api\/(.+)$/.exec(path)?.[1];
  if (api === undefined) return { status: 404, body: { error: { code: "NOT_FOUND", message: `no such path: ${path}` } } };
  const { shop, faults } = parts;
  const customer = query.get("customer");
  let match: RegExpExecArray | null;
  if (method === "GET" && api === "customers") return { status: 200, body: { customers: DEMO_CUSTOMERS, paymentTokens: PAYMENT_TOKENS } };
  if (method === "GET" && api === "products") return shop.products();
  if (method === "POST" && api === "orders") return shop.placeOrder(await jsonBody(request));
  if (method === "GET" && (match = /^orders\/([^/]+)$/.exec(api))) return shop.order(decodeURIComponent(match[1]!), customer);
  if (method === "POST" && (match = /^orders\/([^/]+)\/cancel$/.exec(api))) return shop.cancelOrder(decodeURIComponent(match[1]!), customer);
  if (method === "GET" && api === "notifications") return shop.notifications(customer);
  if (method === "GET" && api === "faults") return { status: 200, body: faults.describe(await faults.active()) };
  if ((match = /^faults\/([a-z-]+)\/([a-z-]+)$/.exec(api))) {
    if (method === "PUT") return faults.switchOn(match[1]!, match[2]!, await jsonBody(request));
    if (method === "DELETE") return faults.switchOff(match[1]!, match[2]!);
  }
  return { status: 404, body: { error: { code: "NOT_FOUND", message: `no such API call: ${method} ${path}` } } };
}

/**
 * A small JSON body, sent as application/json: a page of another site cannot
 * send that without the browser asking first (CORS), which this server never
 * allows, so no other site can place orders or switch faults through a visitor's browser.
 */
async function jsonBody(request: IncomingMessage): Promise<unknown> {
  if (!(request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) throw new ConsoleInputError("content-type: expected application/json");
  const text = await readSmallBody(request, BODY_LIMIT_BYTES);
  if (text === undefined) throw new ConsoleInputError(`body: expected at most ${BODY_LIMIT_BYTES} bytes of JSON`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConsoleInputError(`body: not valid JSON (${(error as Error).message})`);
  }
}

function sendJson(response: ServerResponse, answer: Answer): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(answer.body);
  response.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", "x-content-type-options": "nosniff" });
  response.end(text);
}
