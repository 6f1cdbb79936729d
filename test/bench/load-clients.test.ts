import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { connectH2, grpcFrame, grpcUnary } from "../../bench/lib/h2-grpc.js";
import { http1Client, HttpFailure } from "../../bench/lib/http1-client.js";
import { startLoadGenerator } from "../../bench/lib/loadgen.js";

/** The load generators' own clients: what they count as answered decides the bench's figures. */
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const listening = async <S extends Server | NetServer>(server: S): Promise<URL> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
};

describe("the load generator's HTTP/1.1 client", () => {
  it("answers each request's status, on one keep-alive connection, with its headers and body sent", async () => {
    const seen: Array<{ key: string | undefined; body: string; socket: unknown }> = [];
    const server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk));
      request.on("end", () => {
        seen.push({ key: request.headers["idempotency-key"] as string, body, socket: request.socket });
        const text = JSON.stringify({ ok: body.length });
        response.writeHead(body.includes("bad") ? 400 : 201, { "content-length": Buffer.byteLength(text) });
        response.end(text);
      });
    });
    const client = http1Client(await listening(server));
    closers.push(() => client.close());
    expect(await client.post("/api/orders", { "idempotency-key": "k1" }, '{"a":"é"}', 5000)).toBe(201);
    expect(await client.post("/api/orders", { "idempotency-key": "k2" }, '{"a":"bad"}', 5000)).toBe(400);
    expect(seen.map(({ key, body }) => [key, body])).toEqual([["k1", '{"a":"é"}'], ["k2", '{"a":"bad"}']]);
    expect(seen[0]!.socket).toBe(seen[1]!.socket);
  });

  it("reads an answer that arrives in pieces, and opens a new connection after Connection: close", async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections += 1;
      socket.once("data", () => {
        socket.write("HTTP/1.1 201 Created\r\nContent-Le");
        setTimeout(() => socket.write("ngth: 4\r\nConnection: close\r\n\r\nok"), 20);
        setTimeout(() => socket.end("!!"), 40);
      });
    });
    const client = http1Client(await listening(server));
    closers.push(() => client.close());
    expect(await client.post("/", {}, "{}", 5000)).toBe(201);
    expect(await client.post("/", {}, "{}", 5000)).toBe(201);
    expect(connections).toBe(2);
  });

  it("fails a request that gets no answer in time, or one it cannot read, with the reason", async () => {
    const server = createNetServer((socket) =>
      socket.once("data", (request) => {
        if (request.toString().startsWith("POST /chunked")) socket.write("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n");
      }),
    );
    const client = http1Client(await listening(server));
    closers.push(() => client.close());
    await expect(client.post("/silent", {}, "{}", 50)).rejects.toEqual(new HttpFailure("timeout"));
    await expect(client.post("/chunked", {}, "{}", 5000)).rejects.toEqual(new HttpFailure("answer without a Content-Length"));
  });
});

describe("the load generator's gRPC call on node:http2", () => {
  it("answers the server's grpc-status, OK or not, and DEADLINE_EXCEEDED when no answer comes", async () => {
    const echo = {
      path: "/bench.Echo/Say",
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (value: Buffer) => value,
      responseDeserialize: (bytes: Buffer) => bytes,
    };
    const server = new grpc.Server();
    server.addService({ say: echo }, {
      say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const word = call.request.toString();
        if (word === "slow") return void setTimeout(() => callback(null, call.request), 2000);
        if (word === "missing") return callback({ code: grpc.status.NOT_FOUND, details: "no such word" });
        callback(null, call.request);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    closers.push(() => server.forceShutdown());
    const session = await connectH2(`http://127.0.0.1:${port}`);
    closers.push(() => session.destroy());
    const call = (word: string, deadlineMs?: number) => grpcUnary(session, echo.path, grpcFrame(Buffer.from(word)), deadlineMs);
    expect(await call("hello", 5000)).toBe(grpc.status.OK);
    expect(await call("missing")).toBe(grpc.status.NOT_FOUND);
    expect(await call("slow", 100)).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});

describe("the load generator", () => {
  it("sends every order of a run at its rate, each with its own key and a customer's token, run after run on the same workers", async () => {
    const keys: string[] = [];
    const server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        keys.push(String(request.headers["idempotency-key"]));
        const refused = !String(request.headers.authorization).startsWith("Bearer ");
        response.writeHead(refused ? 401 : 201, { "content-length": 2 });
        response.end("{}");
      });
    });
    const address = (await listening(server)).origin;
    const generator = startLoadGenerator(2);
    closers.push(() => generator.stop());
    const run = (keyPrefix: string) => generator.run({ target: "http", address, rate: 40, seconds: 0.5, keyPrefix, products: ["p1"], tlsDir: "" });
    const first = await run("first");
    const second = await run("second");
    for (const result of [first, second]) expect(result).toMatchObject({ sent: 20, ok: 20, errorRate: 0, errors: {} });
    expect(new Set(keys).size).toBe(40);
    expect(keys.filter((key) => key.startsWith("second-"))).toHaveLength(20);
  }, 30_000);
});
