/**
 * The load generator's HTTP/1.1 client: keep-alive connections, one request at a
 * time on each (no pipelining, as a browser or node:http's Agent does), a request
 * written as one string, and the answer read only as far as its status and
 * Content-Length. The bench measures the mesh: on two cores every millisecond the
 * generator spends is one the mesh cannot, and node:http's client (a
 * ClientRequest, an IncomingMessage stream and header validation per request)
 * cost ~4× as much CPU per request as this (bench/analysis.md).
 */
import { connect, type Socket } from "node:net";

export class HttpFailure extends Error {}

interface Exchange {
  resolve(status: number): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** One keep-alive connection; `exchange` is the request it is answering, if any. */
class Connection {
  private buffered = "";
  exchange: Exchange | undefined;

  constructor(
    readonly socket: Socket,
    private readonly release: (connection: Connection) => void,
    private readonly forget: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.read(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => this.fail(new HttpFailure(`socket: ${error.code ?? error.message}`)));
    socket.on("close", () => this.fail(new HttpFailure("socket: closed before the answer")));
  }

  /** Parse what arrived: once a whole answer (head and Content-Length bytes of body) is in, settle the request. */
  private read(chunk: string): void {
    this.buffered += chunk;
    const headEnd = this.buffered.indexOf("\r\n\r\n");
    if (headEnd < 0 || this.exchange === undefined) return;
    const head = this.buffered.slice(0, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (Number.isNaN(length)) return this.fail(new HttpFailure("answer without a Content-Length"));
    if (this.buffered.length < headEnd + 4 + length) return;
    const status = Number(head.slice(9, 12));
    this.buffered = this.buffered.slice(headEnd + 4 + length);
    const exchange = this.exchange;
    this.exchange = undefined;
    clearTimeout(exchange.timer);
    if (/\r\nconnection: *close/i.test(head)) {
      this.forget(this);
      this.socket.destroy();
    } else this.release(this);
    exchange.resolve(status);
  }

  fail(error: Error): void {
    this.forget(this);
    this.socket.destroy();
    const exchange = this.exchange;
    this.exchange = undefined;
    if (exchange) {
      clearTimeout(exchange.timer);
      exchange.reject(error);
    }
  }
}

/** POST to `url`'s host and port over keep-alive connections, as many as requests in flight. */
export function http1Client(url: URL): { post(path: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number>; close(): void } {
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const port = Number(url.port || 80);
  const take = () => {
    const reused = idle.pop();
    if (reused) return reused;
    const connection = new Connection(
      connect(port, url.hostname),
      (done) => idle.push(done),
      (gone) => {
        all.delete(gone);
        const at = idle.indexOf(gone);
        if (at >= 0) idle.splice(at, 1);
      },
    );
    all.add(connection);
    return connection;
  };
  return {
    post(path, headers, body, timeoutMs) {
      return new Promise((resolve, reject) => {
        const connection = take();
        const timer = setTimeout(() => connection.fail(new HttpFailure("timeout")), timeoutMs);
        connection.exchange = { resolve, reject, timer };
        let head = `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
        for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
        connection.socket.write(`${head}\r\n${body}`);
      });
    },
    close() {
      for (const connection of all) connection.socket.destroy();
    },
  };
}
