import { Metadata, status } from "@grpc/grpc-js";
import { CatalogServiceService } from "@bazaar/gen/bazaar/catalog/v1/catalog";
import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";
import { OrderServiceService } from "@bazaar/gen/bazaar/orders/v1/orders";
import { PaymentServiceService } from "@bazaar/gen/bazaar/payments/v1/payments";
import { createClient, type PromiseClient } from "@bazaar/runtime/grpc/client";
import { type Implementation, type ServiceDeps } from "@bazaar/runtime/service";
import { startTestService } from "@bazaar/runtime/testing";
import { catalogService } from "../../../services/catalog/src/service.js";
import { migrationsDir as catalogMigrations } from "../../../services/catalog/src/store.js";
import { inventoryEventHandlers } from "../../../services/inventory/src/events.js";
import { inventoryService } from "../../../services/inventory/src/service.js";
import { migrationsDir as inventoryMigrations } from "../../../services/inventory/src/store.js";
import { rejectStalledOrders } from "../../../services/orders/src/recovery.js";
import { type Downstream } from "../../../services/orders/src/place-order.js";
import { orderServiceWith } from "../../../services/orders/src/service.js";
import { migrationsDir as ordersMigrations } from "../../../services/orders/src/store.js";
import { paymentEventHandlers } from "../../../services/payments/src/events.js";
import { resolveAbandonedCharges } from "../../../services/payments/src/recovery.js";
import { paymentServiceWith } from "../../../services/payments/src/service.js";
import { migrationsDir as paymentsMigrations } from "../../../services/payments/src/store.js";
import { HandDelivery } from "./hand-delivery.js";
import { HeldCardNetwork } from "./held-card-network.js";

/**
 * The real orders, payments and inventory (and the catalog orders prices with),
 * in this process: real gRPC on free ports of 127.0.0.1, each on a fresh
 * database of the test cluster, orders calling the others through the runtime's
 * clients (retries, breaker) as in production. No NATS: events travel by hand
 * (hand-delivery.ts). The card network is the real simulated one, held by the
 * test (held-card-network.ts). The background jobs (orders' stalled-order sweep,
 * payments' charge recovery) are not started: the test runs them when it chooses.
 */

/** PlaceOrder's budget: never reached here; the test releases every held answer itself. */
const BUDGET_MS = 60_000;
/** Payments' lease on a PENDING charge. Recovery is made to find a charge past it by ageing the row (recover()). */
const PENDING_LEASE_MS = 60_000;

export interface MoneyMesh {
  network: HeldCardNetwork;
  orders: PromiseClient<typeof OrderServiceService>;
  deps: { orders: ServiceDeps; payments: ServiceDeps; inventory: ServiceDeps };
  delivery: HandDelivery;
  /**
   * While `lost`, orders' compensation calls (payments.Refund, inventory.ReleaseReservation)
   * never arrive, as on a network that drops them: only the OrderRejected and
   * OrderCancelled events can make good what the saga could not undo itself.
   */
  compensations: { lost: boolean };
  /** Orders' stalled-order sweep, taking every PENDING order as stalled; the ids it rejected. */
  sweep(): Promise<string[]>;
  /**
   * Payments' recovery after its lease on every PENDING charge ran out (as if the
   * process holding it died; its answer may still come); what it resolved.
   */
  recover(): Promise<Array<{ paymentId: string; status: string }>>;
  stop(): Promise<void>;
}

/** An implementation that also hands the test the deps its handlers were built with. */
function exposingDeps(implementation: Implementation): { implementation: Implementation; deps: () => ServiceDeps } {
  let deps: ServiceDeps | undefined;
  return {
    implementation: { ...implementation, create: (given) => ((deps = given), implementation.create(given)) },
    deps() {
      if (!deps) throw new Error(`${implementation.name} has not built its handlers yet`);
      return deps;
    },
  };
}

/** Orders' clients of its dependencies, whose compensation calls fail UNAVAILABLE unsent while `compensations.lost`. */
function losingCompensations(downstream: Downstream, compensations: { lost: boolean }): Downstream {
  const lost = () => Promise.reject(Object.assign(new Error("14 UNAVAILABLE: connection dropped"), { code: status.UNAVAILABLE, details: "connection dropped", metadata: new Metadata() }));
  return {
    ...downstream,
    payments: { ...downstream.payments, refund: (request, options) => (compensations.lost ? lost() : downstream.payments.refund(request, options)) },
    inventory: {
      ...downstream.inventory,
      releaseReservation: (request, options) => (compensations.lost ? lost() : downstream.inventory.releaseReservation(request, options)),
    },
  };
}

export async function startMoneyMesh(): Promise<MoneyMesh> {
  const network = new HeldCardNetwork();
  const payments = exposingDeps(paymentServiceWith(network.providerOf, PENDING_LEASE_MS));
  const inventory = exposingDeps(inventoryService);
  const [catalogServer, inventoryServer, paymentsServer] = await Promise.all([
    startTestService("catalog", { migrationsDir: catalogMigrations, services: [catalogService] }),
    startTestService("inventory", { migrationsDir: inventoryMigrations, services: [inventory.implementation] }),
    startTestService("payments", { migrationsDir: paymentsMigrations, services: [payments.implementation] }),
  ]);
  const options = { deadlineMs: BUDGET_MS };
  const downstream = {
    catalog: createClient(CatalogServiceService, catalogServer.address, options),
    inventory: createClient(InventoryServiceService, inventoryServer.address, options),
    payments: createClient(PaymentServiceService, paymentsServer.address, options),
  };
  const compensations = { lost: false };
  const orders = exposingDeps(orderServiceWith(losingCompensations(downstream, compensations), BUDGET_MS));
  const ordersServer = await startTestService("orders", { migrationsDir: ordersMigrations, services: [orders.implementation] });
  const ordersClient = createClient(OrderServiceService, ordersServer.address, { deadlineMs: BUDGET_MS, retry: false });

  const deps = { orders: orders.deps(), payments: payments.deps(), inventory: inventory.deps() };
  const delivery = new HandDelivery(
    // Payments' events (PaymentCaptured, PaymentRefunded) are read too; only notifications consumes them.
    [deps.orders.db, deps.payments.db],
    [
      { service: "payments", db: deps.payments.db, outbox: deps.payments.outbox, handlers: paymentEventHandlers },
      { service: "inventory", db: deps.inventory.db, outbox: deps.inventory.outbox, handlers: inventoryEventHandlers },
    ],
  );
  return {
    network,
    compensations,
    orders: ordersClient,
    deps,
    delivery,
    sweep: () => rejectStalledOrders(deps.orders, 0),
    async recover() {
      await deps.payments.db.query("update payments set updated_at = now() - $1 * interval '2 milliseconds' where status = 'PENDING'", [PENDING_LEASE_MS]);
      return resolveAbandonedCharges({ db: deps.payments.db, outbox: deps.payments.outbox, provider: network.provider, pendingLeaseMs: PENDING_LEASE_MS });
    },
    async stop() {
      ordersClient.close();
      await ordersServer.stop();
      Object.values(downstream).forEach((client) => client.close());
      await Promise.all([catalogServer.stop(), inventoryServer.stop(), paymentsServer.stop()]);
    },
  };
}
