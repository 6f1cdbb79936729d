/**
 * Unary gRPC calls straight on node:http2, for the load generators: the bench
 * measures the servers, and on two cores every millisecond a generator spends
 * is one the servers cannot. A grpc-js client costs ~3× as much CPU per call
 * (its resolving, retrying and load-balancing layers, bench/analysis.md).
 */
import { readFileSync } from "node:fs";
import { type ClientHttp2Session, connect, constants } from "node:http2";
import { join } from "node:path";

/** Certificate files, as the mesh's `make certs` writes them: `identity`'s certificate and key, and the CA. */
export function tlsFiles(tlsDir: string, identity: string): { ca: string; cert: string; key: string } {
  return { ca: join(tlsDir, "ca.pem"), cert: join(tlsDir, `${identity}.pem`), key: join(tlsDir, `${identity}-key.pem`) };
}

/** One HTTP/2 connection to `origin` (http:// or https://), with a client certificate when `tls` is given. */
export async function connectH2(origin: string, tls?: { ca: string; cert: string; key: string }, servername?: string): Promise<ClientHttp2Session> {
  const session = connect(
    origin,
    tls && { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), ...(servername ? { servername } : {}) },
  );
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  session.on("error", () => {}); // a call fails on its own stream; the session's error is only a repeat
  return session;
}

/** A protobuf message as a gRPC length-prefixed message (uncompressed). */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** gRPC status codes this client gives itself (the server's come as they are). */
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;

/**
 * One unary call of `path` with a framed request; resolves with the answer's
 * grpc-status (0 is OK), CANCELLED when the stream failed without one, or
 * DEADLINE_EXCEEDED when no answer came within `deadlineMs` (the server is
 * told the deadline too, as grpc-timeout, and usually answers it first).
 */
export function grpcUnary(session: ClientHttp2Session, path: string, frame: Buffer, deadlineMs?: number): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" };
    if (deadlineMs !== undefined) headers["grpc-timeout"] = `${Math.ceil(deadlineMs)}m`;
    const stream = session.request(headers);
    let status = CANCELLED;
    const read = (value: string | string[] | undefined) => (value === undefined ? status : Number(value));
    let timer: NodeJS.Timeout | undefined;
    if (deadlineMs !== undefined) {
      timer = setTimeout(() => {
        status = DEADLINE_EXCEEDED;
        stream.close(constants.NGHTTP2_CANCEL);
      }, deadlineMs);
    }
    // A trailers-only answer (an error) carries grpc-status in the headers.
    stream.on("response", (answer) => (status = read(answer["grpc-status"])));
    stream.on("trailers", (trailers) => (status = read(trailers["grpc-status"])));
    stream.on("error", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(status);
    });
    stream.resume();
    stream.end(frame);
  });
}
