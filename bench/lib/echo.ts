import { createServer, type Server } from "node:net";

/**
 * A TCP echo server on 127.0.0.1:`port` (0: any free one), Nagle off, sending
 * every chunk straight back: the far end of bench/ipc.ts, in its own process
 * (bench/ipc-echo.ts) or in the measuring one. Resolves once it listens.
 */
export async function listenEcho(port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => socket.write(chunk));
  }).listen(port, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { server, port: (server.address() as { port: number }).port };
}
