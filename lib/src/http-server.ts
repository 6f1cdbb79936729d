import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";

/**
 * node:http's createServer, taken without building the module's ESM namespace.
 * On Node 22 and 24, `import { createServer } from "node:http"` evaluates every export of
 * node:http, WebSocket, CloseEvent and MessageEvent among them, and those load
 * Node's bundled undici: 14 MB more resident memory in every process that serves
 * HTTP (bench/analysis.md, "Memory on Node 24"), for a WebSocket nobody uses.
 * process.getBuiltinModule returns the CommonJS module object, whose getters stay
 * unread. Every HTTP server here (the admin port, the gateway) is made by this.
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
