/**
 * The far end of bench/ipc.ts: a TCP echo server on 127.0.0.1:<port>, Nagle off,
 * sending every chunk straight back. Runs until killed.
 *
 * Usage: node bench/ipc-echo.ts <port>   (plain JavaScript in TypeScript syntax: run with --import tsx)
 */
import { createServer } from "node:net";

createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (chunk) => socket.write(chunk));
}).listen(Number(process.argv[2]), "127.0.0.1");
