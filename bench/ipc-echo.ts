/**
 * The far end of bench/ipc.ts in a process of its own: an echo server on
 * 127.0.0.1:<port> (bench/lib/echo.ts). Runs until killed.
 *
 * Usage: node --import tsx bench/ipc-echo.ts <port>
 */
import { listenEcho } from "./lib/echo.js";

await listenEcho(Number(process.argv[2]));
