/**
 * Every service in this process, as the contract tests start them: real gRPC
 * on free ports, real (in-memory) databases, orders calling the real catalog,
 * inventory and payments, and the HTTP gateway in front. No NATS: hostile input
 * is about the request surface; outbox rows simply wait.
 */
import { randomBytes } from "node:crypto";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { parseConfig } from "@bazaar/runtime/config";
import { createClient } from "@bazaar/runtime/grpc/client";
import { type ServiceName } from "../../../scripts/shop.js";
import { type RunningService } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { catalogService } from "../../../services/catalog/src/service.js";
import { migrationsDir as catalogMigrations } from "../../../services/catalog/src/store.js";
import { signCustomerToken } from "@bazaar/shop/customer-token";
import { gatewayConfig } from "../../../services/gateway/src/config.js";
import { startGateway } from "../../../services/gateway/src/module.js";
import { inventoryService } from "../../../services/inventory/src/service.js";
import { migrationsDir as inventoryMigrations } from "../../../services/inventory/src/store.js";
import { notificationsService } from "../../../services/notifications/src/service.js";
import { migrationsDir as notificationsMigrations } from "../../../services/notifications/src/store.js";
import { orderServiceWith } from "../../../services/orders/src/service.js";
import { migrationsDir as ordersMigrations } from "../../../services/orders/src/store.js";
import { paymentService } from "../../../services/payments/src/service.js";
import { migrationsDir as paymentsMigrations } from "../../../services/payments/src/store.js";

export interface InProcessShop {
  /** host:port of each gRPC service. */
  grpc: Record<ServiceName, string>;
  gatewayUrl: string;
  /** A bearer token of `customerId` that this gateway accepts. */
  tokenFor(customerId: string): Promise<string>;
  stop(): Promise<void>;
}

/** PlaceOrder's budget: generous, two cores are shared by everything here. */
const PLACE_ORDER_TIMEOUT_MS = 10_000;

export async function startInProcessShop(): Promise<InProcessShop> {
  const [catalog, inventory, payments, notifications] = await Promise.all([
    startTestService("catalog", { migrationsDir: catalogMigrations, services: [catalogService] }),
    startTestService("inventory", { migrationsDir: inventoryMigrations, services: [inventoryService] }),
    startTestService("payments", { migrationsDir: paymentsMigrations, services: [paymentService] }),
    startTestService("notifications", { migrationsDir: notificationsMigrations, services: [notificationsService] }),
  ]);
  const options = { deadlineMs: PLACE_ORDER_TIMEOUT_MS };
  const downstream = {
    catalog: createClient(CatalogServiceService, catalog.address, options),
    inventory: createClient(InventoryServiceService, inventory.address, options),
    payments: createClient(PaymentServiceService, payments.address, options),
  };
  const orders = await startTestService("orders", { migrationsDir: ordersMigrations, services: [orderServiceWith(downstream, PLACE_ORDER_TIMEOUT_MS)] });
  const config = parseConfig(gatewayConfig, {
    HTTP_ADDR: "127.0.0.1:0",
    CATALOG_ADDR: catalog.address,
    ORDERS_ADDR: orders.address,
    NOTIFICATIONS_ADDR: notifications.address,
    REQUEST_TIMEOUT_MS: String(PLACE_ORDER_TIMEOUT_MS + 2000),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    AUTH_JWT_SECRET: `fuzz-${randomBytes(24).toString("hex")}`,
    // Like the in-process services (startTestService): the fuzz targets input handling, not the transport.
    TLS_MODE: "insecure",
  });
  const gateway = await startGateway(config);
  const services: RunningService[] = [orders, catalog, inventory, payments, notifications];
  return {
    grpc: { catalog: catalog.address, inventory: inventory.address, orders: orders.address, payments: payments.address, notifications: notifications.address },
    gatewayUrl: `http://127.0.0.1:${gateway.port}`,
    tokenFor: (customerId) => signCustomerToken(config, customerId),
    async stop() {
      await gateway.stop();
      // Orders first: it still calls the others.
      for (const service of services) await service.stop();
      Object.values(downstream).forEach((client) => client.close());
    },
  };
}
