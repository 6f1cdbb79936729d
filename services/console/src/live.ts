import { type ServerResponse } from "node:http";

/**
 * The page's live data as server-sent events: every open page (any number of
 * tabs) gets each message once, from one source. A page that goes away is
 * dropped at its connection's close; one that cannot keep up (its socket's
 * buffer past LIMIT) is cut, and its EventSource reconnects.
 */
const LIMIT_BYTES = 1 << 20;
const KEEPALIVE_MS = 15_000;

export class LiveChannel {
  private readonly pages = new Set<ServerResponse>();
  private readonly keepalive = setInterval(() => this.write(": keepalive\n\n"), KEEPALIVE_MS);

  get watching(): number {
    return this.pages.size;
  }

  /** Start the stream on `response`, first with what a new page needs (`hello`: the latest map, the recent events). */
  open(response: ServerResponse, hello: Array<{ event: string; data: unknown }>): void {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Proxies in front of the console must not buffer the stream.
      "x-accel-buffering": "no",
    });
    response.write("retry: 2000\n\n");
    for (const message of hello) response.write(frame(message.event, message.data));
    this.pages.add(response);
    response.on("close", () => this.pages.delete(response));
  }

  send(event: string, data: unknown): void {
    if (this.pages.size > 0) this.write(frame(event, data));
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const page of this.pages) page.end();
    this.pages.clear();
  }

  private write(text: string): void {
    for (const page of this.pages) {
      if (page.writableLength > LIMIT_BYTES) {
        page.destroy();
        this.pages.delete(page);
      } else {
        page.write(text);
      }
    }
  }
}

/** One SSE message; JSON has no raw newlines, so one data line. */
const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
