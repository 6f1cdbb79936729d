import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { freePort } from "../src/free-port.js";

/** The ports the tests' and benchmarks' meshes give their processes before these start. */
describe("freePort", () => {
  const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  /** The port freePort draws when Math.random() answers `draw`. */
  const portAt = (draw: number) => 10_000 + Math.floor(draw * (ephemeralLow! - 10_000));
  afterEach(() => vi.restoreAllMocks());

  it("draws ports below the kernel's ephemeral range, where no outgoing connection takes one", async () => {
    const ports: number[] = [];
    for (let index = 0; index < 20; index++) ports.push(await freePort());
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow!);
    }
  });

  it("never hands out one port twice, though nothing has bound it yet", async () => {
    // Both calls draw the same port first; after that, real draws (a fixed second port could be taken by
    // whatever else runs on the machine).
    const random = vi.spyOn(Math, "random").mockReturnValueOnce(0.31).mockReturnValueOnce(0.31);
    const first = await freePort();
    expect(first).toBe(portAt(0.31));
    expect(await freePort()).not.toBe(first);
    expect(random.mock.calls.length).toBeGreaterThanOrEqual(3);
  });

  it("skips a port something listens on", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(portAt(0.77), "127.0.0.1", resolve));
    try {
      const random = vi.spyOn(Math, "random").mockReturnValueOnce(0.77);
      expect(await freePort()).not.toBe(portAt(0.77));
      expect(random.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
