import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";

/**
 * node:http's createServer, taken without building the module's ESM namespace.
 * On Node 22 and 24, `import { createServer } from "node:http"` evaluates every export of
 * node:http, WebSocket, CloseEvent and MessageEvent among them, and those load
 * Node's bundled undici: 14 MB more resident memory in every process that serves
 * HTTP (bench/analysis.md, "Memory on Node 24"), for a WebSocket nobody uses.
 * process.getBuiltinModule returns the CommonJS module object, whose getters stay
 * unread. Every HTTP server here (the admin port, the gateway, the console) is made by this.
 */
export function createNodeHttpServer(listener: RequestListener<typeof IncomingMessage, typeof ServerResponse>): Server {
  return process.getBuiltinModule("node:http").createServer(listener);
}

/** Listen on `address` (host:port, port 0 for a free one); resolves with the bound port, rejects if the port is taken. */
export function listenOn(server: Server, address: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/**
 * A small request body as text: at most `limitBytes`, decoded as UTF-8 once
 * whole (a character split across two chunks stays one character). Undefined
 * when the body is longer: reading stops there, so a client cannot make a
 * server buffer more than the limit.
 */
export async function readSmallBody(request: IncomingMessage, limitBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
