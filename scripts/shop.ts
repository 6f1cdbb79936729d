/**
 * The shop's gRPC services and its HTTP edge, each declared once in its
 * services/<name>/src/module.ts. The one list that launchers, tests and checks
 * read what a service is from: its ports, what it publishes and consumes, whom
 * it calls, its config. Adding a service is adding its module here.
 */
import { SUPPORT_IDENTITIES } from "@bazaar/shop/identities";
import { catalog } from "../services/catalog/src/module.js";
import { console_ } from "../services/console/src/module.js";
import { gateway } from "../services/gateway/src/module.js";
import { inventory } from "../services/inventory/src/module.js";
import { notifications } from "../services/notifications/src/module.js";
import { orders } from "../services/orders/src/module.js";
import { payments } from "../services/payments/src/module.js";

export const SHOP_MODULES = [catalog, inventory, payments, notifications, orders] as const;

/** The shop's edge: the HTTP gateway in front of the services, started after them. */
export const SHOP_EDGE = gateway;

/** The development console (the shop, the live mesh map, faults), started after the gateway by `make up` only; never deployed to production. */
export const SHOP_CONSOLE = console_;

export type ShopModule = (typeof SHOP_MODULES)[number];
export type ServiceName = ShopModule["name"];

/** Every service's name, in the list's order. */
export const SERVICE_NAMES: readonly ServiceName[] = SHOP_MODULES.map((module) => module.name);

/** The port map: each service's gRPC and admin ports, as its module declares them (`make up`, compose and Kubernetes use them). */
export const PORTS = Object.fromEntries(SHOP_MODULES.map((module) => [module.name, module.ports])) as Record<ServiceName, ShopModule["ports"]>;

/** Every identity the development CA issues a certificate for (`make certs`): the services, then the gateway, NATS and the people's. */
export const MESH_IDENTITIES: readonly string[] = [...SERVICE_NAMES, ...SUPPORT_IDENTITIES];
