import { type ClientRequest, get, type IncomingMessage, type Server } from "node:http";
import { createNodeHttpServer, listenOn } from "@bazaar/runtime/http-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LiveChannel } from "../src/live.js";

// The console's server-sent events: a real HTTP server on a free port opens
// the stream for every request, and real clients read it as pages would.

const HELLO = [
  { event: "mesh", data: { nodes: ["orders"] } },
  { event: "feed", data: [{ subject: "orders.order.placed" }] },
];

/** One open page: everything its stream said so far, as text and as messages. */
interface Page {
  response: IncomingMessage;
  text(): string;
  messages(): Array<{ event: string; data: unknown }>;
  ended: Promise<void>;
  close(): void;
}

/** The `event:`/`data:` messages of an SSE stream (comments and retry lines are not messages). */
function messagesOf(text: string): Array<{ event: string; data: unknown }> {
  return text
    .split("\n\n")
    .map((block) => Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)])))
    .filter((fields) => fields.event !== undefined)
    .map((fields) => ({ event: fields.event!, data: JSON.parse(fields.data!) as unknown }));
}

let live: LiveChannel;
let server: Server;
let port: number;
const requests: ClientRequest[] = [];

beforeEach(async () => {
  live = new LiveChannel();
  server = createNodeHttpServer((_request, response) => live.open(response, HELLO));
  port = await listenOn(server, { host: "127.0.0.1", port: 0 });
});
afterEach(async () => {
  for (const request of requests.splice(0)) request.destroy();
  live.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});

/** Open the stream and wait for its hello. */
async function openPage(): Promise<Page> {
  let text = "";
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = get(`http://127.0.0.1:${port}/console/stream`, resolve);
    request.on("error", reject);
    requests.push(request);
  });
  response.setEncoding("utf8");
  response.on("data", (chunk: string) => (text += chunk));
  const ended = new Promise<void>((resolve) => {
    response.on("end", resolve);
    response.on("close", resolve);
  });
  const page: Page = { response, text: () => text, messages: () => messagesOf(text), ended, close: () => response.destroy() };
  await expect.poll(() => page.messages().length).toBe(HELLO.length);
  return page;
}

describe("LiveChannel", () => {
  it("opens an event stream that starts with the reconnect delay, then what a new page needs", async () => {
    const page = await openPage();
    expect(page.response.statusCode).toBe(200);
    expect(page.response.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(page.response.headers["cache-control"]).toBe("no-store");
    expect(page.text().startsWith("retry: 2000\n\n")).toBe(true);
    expect(page.messages()).toEqual(HELLO);
    expect(live.watching).toBe(1);
  });

  it("sends each message to every open page once, after its hello", async () => {
    const pages = [await openPage(), await openPage()];
    expect(live.watching).toBe(2);

    live.send("mesh", { nodes: ["orders", "payments"] });
    live.send("feed", { subject: "payments.payment.charged" });
    for (const page of pages) {
      await expect.poll(() => page.messages().length).toBe(HELLO.length + 2);
      expect(page.messages()).toEqual([...HELLO, { event: "mesh", data: { nodes: ["orders", "payments"] } }, { event: "feed", data: { subject: "payments.payment.charged" } }]);
    }
  });

  it("drops a page that went away, and keeps sending to the others", async () => {
    const leaving = await openPage();
    const staying = await openPage();
    leaving.close();
    await expect.poll(() => live.watching).toBe(1);

    live.send("mesh", { nodes: [] });
    await expect.poll(() => staying.messages().length).toBe(HELLO.length + 1);
    expect(staying.messages().at(-1)).toEqual({ event: "mesh", data: { nodes: [] } });
    expect(leaving.messages()).toEqual(HELLO);
  });

  it("sends nothing, and fails nothing, while nobody watches", async () => {
    live.send("mesh", { nodes: [] });
    const page = await openPage();
    expect(page.messages()).toEqual(HELLO);
  });

  it("ends every page's stream when it closes", async () => {
    const pages = [await openPage(), await openPage()];
    live.close();
    await Promise.all(pages.map((page) => page.ended));
    expect(live.watching).toBe(0);
    for (const page of pages) expect(page.response.complete).toBe(true);
  });
});
