import { splitAddress } from "@bazaar/runtime/config";
import { listenOn } from "@bazaar/runtime/http-server";
import { type EdgeSetup, type OpenEdge } from "@bazaar/runtime/edge";
import { type consoleCalls } from "./calls.js";
import { type ConsoleConfig } from "./config.js";
import { followEvents } from "./event-feed.js";
import { FaultSwitch } from "./faults.js";
import { createConsoleServer } from "./http.js";
import { LiveChannel } from "./live.js";
import { watchMesh } from "./mesh-watch.js";
import { ShopProxy } from "./shop.js";

/**
 * The console's edge: its page and API over HTTP, the map polled from the
 * processes' admin ports while a page watches, the event feed from NATS. It
 * starts whether or not the mesh is up: the map then shows who is missing.
 */
export async function openConsole({ config, clients, logger, isDraining }: EdgeSetup<ConsoleConfig, typeof consoleCalls>): Promise<OpenEdge> {
  const live = new LiveChannel();
  const faults = new FaultSwitch(config.BAZAAR_FAULTS, config.MESH_ADMIN_ADDRS);
  const mesh = watchMesh(
    { admin: config.MESH_ADMIN_ADDRS, natsMonitorUrl: config.NATS_MONITOR_URL, databaseAddr: config.DATABASE_ADDR },
    () => live.watching > 0,
    (snapshot) => {
      // The faults ride along with the map: one poll a second for both, whatever the number of pages.
      void faults.active().then((active) => live.send("mesh", { ...snapshot, faults: active }));
    },
    logger,
  );
  const tls = config.TLS_MODE === "mtls" ? { ca: `${config.TLS_DIR}/ca.pem`, cert: `${config.TLS_DIR}/console.pem`, key: `${config.TLS_DIR}/console-key.pem` } : undefined;
  const feed = followEvents(config.NATS_URL, tls, logger, (event) => live.send("feed", event));
  const server = createConsoleServer(
    {
      shop: new ShopProxy(config.GATEWAY_URL, config, clients),
      faults,
      live,
      hello: () => {
        const latest = mesh.latest();
        return [...(latest ? [{ event: "mesh", data: { ...latest, faults: [] } }] : []), ...feed.recent().map((event) => ({ event: "feed", data: event }))];
      },
      isDraining,
    },
    logger,
  );
  const boundPort = await listenOn(server, splitAddress(config.HTTP_ADDR));
  logger.info({ http_port: boundPort, gateway: config.GATEWAY_URL, faults: config.BAZAAR_FAULTS }, "listening");
  return {
    port: boundPort,
    drain: async () => {
      mesh.stop();
      live.close();
      await feed.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return true;
    },
  };
}
