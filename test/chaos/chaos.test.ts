import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@bazaar/runtime/db/database";
import { type ChaosMesh, PLACE_ORDER_TIMEOUT_MS, startChaosMesh } from "./support/mesh.js";
import { audit, type Counts, gauge, type Load, openShop, placeOrders, report, type Shop } from "./support/shop.js";

/**
 * What must hold over every order once the dust has settled, whatever the fault:
 * nothing is left PENDING (the sweepers finished what a cut saga or charge left),
 * an order is charged (a capture not refunded) if and only if it is CONFIRMED,
 * every charge the card network made is recorded, and an order's stock is sold
 * if and only if it is CONFIRMED (given back otherwise).
 */
function expectEveryOrderSettled(counts: Counts): void {
  const { stillPending, paymentsPending, chargedUnconfirmed, confirmedUncharged, moneyUnrecorded, stockMismatched } = counts;
  expect({ stillPending, paymentsPending, chargedUnconfirmed, confirmedUncharged, moneyUnrecorded, stockMismatched }, report("money and stock", counts)).toEqual({
    stillPending: 0,
    paymentsPending: 0,
    chargedUnconfirmed: 0,
    confirmedUncharged: 0,
    moneyUnrecorded: 0,
    stockMismatched: 0,
  });
}

/**
 * Every order recorded CONFIRMED has exactly one OrderPlaced and one notification,
 * no event, notification or charge came twice, and orders' outbox is empty.
 */
function expectNothingLostOrDuplicated(counts: Counts): void {
  const { events, notifications, duplicates, doubleCharges, lost, outboxPending } = counts;
  expect({ events, notifications, duplicates, doubleCharges, lost, outboxPending }, report("events and notifications", counts)).toEqual({
    events: counts.recorded,
    notifications: counts.recorded,
    duplicates: 0,
    doubleCharges: 0,
    lost: 0,
    outboxPending: 0,
  });
}

// Faults against the real shop: every service a compiled process, a real
// nats-server, ports fixed so a restarted process is found where it was, file
// databases so a killed process keeps its data. The scenarios share one mesh
// and run in order; each leaves it healthy for the next and prints its counts.

let mesh: ChaosMesh;
let shop: Shop;
beforeAll(async () => {
  mesh = await startChaosMesh();
  shop = await openShop(mesh);
}, 180_000);
afterAll(async () => {
  await shop?.close();
  await mesh?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds; the test's timeout bounds the wait. */
async function until(condition: () => boolean | Promise<boolean>, pollMs = 50): Promise<void> {
  while (!(await condition())) await sleep(pollMs);
}

/**
 * Let `load` place `more` orders from now on, stop it, and audit every order it
 * placed once all are settled (the money invariant checked).
 */
async function stopAfter(load: Load, more: number) {
  const from = load.finished();
  await until(() => load.finished() >= from + more);
  load.stop();
  const outcomes = await finish(load);
  const counts = await audit(shop, mesh, load.customers, outcomes);
  expectEveryOrderSettled(counts);
  return { outcomes, counts };
}

/** Wait for `load`, with the processes' last log lines if it throws. */
async function finish(load: Load) {
  try {
    return await load.done;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${mesh.tails()}`);
  }
}

describe("chaos", () => {
  it("1. kill -9 nats-server while orders are placed, restart it 2 s later: each confirmed order has one OrderPlaced and one notification", { timeout: 150_000 }, async () => {
    const load = placeOrders(shop, "s1", 300);
    await until(() => load.finished() >= 75);
    await mesh.nats.killServer();
    await sleep(2000);
    await mesh.nats.startServer();
    const outcomes = await finish(load);

    const counts = await audit(shop, mesh, load.customers, outcomes);
    expectEveryOrderSettled(counts);
    console.log(report("1 (kill -9 nats-server mid-load, back 2 s later)", counts));

    // NATS is not on PlaceOrder's path (the outbox is): every order is confirmed, the events follow.
    expect(counts.confirmed).toBe(300);
    expect(counts.recorded).toBe(300);
    expect(counts.charges).toBe(counts.recorded);
    expectNothingLostOrDuplicated(counts);
  });

  it("2. payments stopped: PlaceOrder fails UNAVAILABLE within its deadline, the stock is released, the breaker opens; payments back, orders succeed again", { timeout: 120_000 }, async () => {
    const { orders, payments } = mesh.services;
    const customers = ["s3-c0"];
    const reservedBefore = (await shop.inventory.getStock({ productId: "cupping-spoon" })).stock!.reserved;
    await payments.stop();

    // The test's client waits longer than orders' whole budget: an answer is orders' own.
    const failures: grpc.ServiceError[] = [];
    const outcomes: Parameters<typeof audit>[3][number][] = [];
    for (let i = 0; i < 8; i++) {
      const key = `s3-down-${i}-${Date.now()}`;
      const failure = await shop.orders
        .placeOrder({ customerId: customers[0]!, items: [{ productId: "cupping-spoon", quantity: 1 }], paymentToken: "tok_visa", idempotencyKey: key })
        .then(() => undefined, (error: grpc.ServiceError) => error);
      expect(failure, "an order was confirmed while payments was down").toBeDefined();
      failures.push(failure!);
      outcomes.push({ key, customerId: customers[0]!, result: "rejected", code: grpc.status[failure!.code] });
    }
    // UNAVAILABLE, not DEADLINE_EXCEEDED: orders answered before its budget ran out, every time.
    expect(failures.map((failure) => grpc.status[failure.code])).toEqual(Array(8).fill("UNAVAILABLE"));
    // The customer reads customer words; the reason stays in orders' log. The breaker opened: later
    // calls failed at once, without trying payments.
    expect(failures.map((failure) => failure.details)).toEqual(Array(8).fill("payments is unavailable"));
    const dependencyFailures = orders.logged("a dependency failed the order").filter((line) => line.dependency === "payments");
    expect(dependencyFailures.some((line) => /payments circuit open/.test(JSON.stringify(line.err)))).toBe(true);
    expect(orders.logged("circuit breaker opened: calls fail at once").some((line) => line.target === "payments")).toBe(true);
    expect(await gauge(orders.adminPort, "bazaar_circuit_breaker_state", { target: "payments" })).toBe(2);
    // Nothing stays reserved for orders that could not be paid.
    await until(async () => (await shop.inventory.getStock({ productId: "cupping-spoon" })).stock!.reserved === reservedBefore, 100);

    // Payments comes back; nothing else is restarted. The breaker lets a trial call through after a few seconds.
    await payments.start();
    let recovered = false;
    for (let attempt = 0; !recovered; attempt++) {
      const key = `s3-up-${attempt}-${Date.now()}`;
      const answer = await shop.orders
        .placeOrder({ customerId: customers[0]!, items: [{ productId: "cupping-spoon", quantity: 1 }], paymentToken: "tok_visa", idempotencyKey: key })
        .then((response) => response.order, (error: grpc.ServiceError) => error);
      recovered = !(answer instanceof Error);
      outcomes.push(recovered ? { key, customerId: customers[0]!, result: "confirmed", orderId: (answer as { id: string }).id } : { key, customerId: customers[0]!, result: "rejected" });
      if (!recovered) await sleep(500);
    }
    for (let i = 0; i < 5; i++) {
      const key = `s3-after-${i}-${Date.now()}`;
      const { order } = await shop.orders.placeOrder({ customerId: customers[0]!, items: [{ productId: "cupping-spoon", quantity: 1 }], paymentToken: "tok_visa", idempotencyKey: key });
      outcomes.push({ key, customerId: customers[0]!, result: "confirmed", orderId: order!.id });
    }
    expect(await gauge(orders.adminPort, "bazaar_circuit_breaker_state", { target: "payments" })).toBe(0);
    expect(orders.logged("circuit breaker closed").some((line) => line.target === "payments")).toBe(true);
    // The retry an UNAVAILABLE invited, once payments is back, learns the order's fate for good.
    const retried = await shop.orders
      .placeOrder({ customerId: customers[0]!, items: [{ productId: "cupping-spoon", quantity: 1 }], paymentToken: "tok_visa", idempotencyKey: outcomes[0]!.key })
      .then(() => undefined, (error: grpc.ServiceError) => error);
    expect(retried?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(retried?.details).toMatch(/^order ord_\w+ was rejected \(payments is unavailable\).*new idempotency_key$/);

    const counts = await audit(shop, mesh, customers, outcomes);
    expectEveryOrderSettled(counts);
    console.log(report("2 (payments stopped, then back)", counts), `\n  first answer: ${failures[0]!.details}\n  last answer: ${failures.at(-1)!.details}`);
    expectNothingLostOrDuplicated(counts);
  });

  it("3. kill -9 orders while orders are placed, restart it: nothing confirmed is lost, no card is charged twice, its outbox is relayed", { timeout: 150_000 }, async () => {
    const load = placeOrders(shop, "s2", 200);
    await until(() => load.finished() >= 50);
    await mesh.services.orders.kill9();
    await mesh.services.orders.start();
    const outcomes = await finish(load);

    const counts = await audit(shop, mesh, load.customers, outcomes);
    expectEveryOrderSettled(counts);
    console.log(report("3 (kill -9 orders mid-load, restarted)", counts));

    expectNothingLostOrDuplicated(counts);
    // A saga cut by the crash leaves its order PENDING until orders' sweep rejects it
    // (src/recovery.ts): those are the only keys without an answer.
    expect(counts.unknown).toBe(counts.pending);
  });

  it("4. SIGTERM to each service in turn under load, each restarted: no call in flight is cut, nothing is lost", { timeout: 180_000 }, async () => {
    // Fewer at a time than the other scenarios: five restarts on two shared cores are slow enough.
    const load = placeOrders(shop, "s4", Infinity, 4);
    for (const name of ["catalog", "inventory", "payments", "notifications", "orders"] as const) {
      const started = load.finished();
      await until(() => load.finished() >= started + 20);
      await mesh.services[name].stop();
      await mesh.services[name].start();
    }
    const { outcomes, counts } = await stopAfter(load, 20);
    // A call cut mid-flight would fail with one of these, instead of finishing (drain) or being refused (UNAVAILABLE).
    const cut = outcomes.filter((outcome) => outcome.failures?.some((code) => ["CANCELLED", "INTERNAL", "UNKNOWN"].includes(code))).length;
    const refusedByRestart = outcomes.filter((outcome) => outcome.result === "rejected" && outcome.code === "UNAVAILABLE").length;
    console.log(report("4 (SIGTERM each service in turn under load, restarted)", counts), `cut=${cut} rejectedWhileADependencyRestarted=${refusedByRestart}`);

    expect(counts.confirmed).toBe(counts.recorded);
    expectNothingLostOrDuplicated(counts);
    expect({ cut, unknown: counts.unknown }).toEqual({ cut: 0, unknown: 0 });
  });

  it("5. orders' confirms stalled in its database past the saga budget under load: the sweep rejects those orders first, and every order still ends charged if and only if CONFIRMED", { timeout: 180_000 }, async () => {
    const load = placeOrders(shop, "s5", Infinity, 4);
    await until(() => load.finished() >= 20);
    // A confirm writes the order's lines: while this lock holds that table, every saga that has charged
    // waits at its confirm (as it would for a connection under load), for longer than a saga may run.
    // The sweep touches only the orders table: it finds those orders stalled and rejects them first.
    const stall = await openDatabase(mesh.databases.orders);
    await stall.transaction(async (tx) => {
      await tx.query("lock table order_lines in access exclusive mode");
      await sleep(PLACE_ORDER_TIMEOUT_MS + 12_000);
    });
    await stall.close();
    const { counts } = await stopAfter(load, 20);
    console.log(report("5 (orders' confirms stalled past the saga budget)", counts));
    // The race happened: orders the sweep rejected while their saga had charged, each refunded.
    expect(counts.pending).toBeGreaterThan(0);
    expectNothingLostOrDuplicated(counts);
  });

  it("6. kill -9 payments between the card network's charge and its settle, restart it: every charge it made is recorded, and refunded unless its order is CONFIRMED", { timeout: 180_000 }, async () => {
    // Charges the network has made (its books say APPROVED) that payments has not settled yet.
    const unsettled = async () =>
      (
        await shop.paymentsDb.query<{ n: number }>(
          "select count(*)::int as n from payments p join simulated_card_ledger l on l.charge_id = p.id where p.status = 'PENDING' and l.outcome = 'APPROVED'",
        )
      )[0]!.n;
    const load = placeOrders(shop, "s6", Infinity);
    await until(() => load.finished() >= 20);
    // Kill the moment a charge sits in the window; the count taken after the kill says whether one was caught.
    let caught = 0;
    for (let attempt = 1; attempt <= 5 && caught === 0; attempt++) {
      await until(async () => (await unsettled()) > 0, 5);
      await mesh.services.payments.kill9();
      caught = await unsettled();
      await mesh.services.payments.start();
    }
    const { counts } = await stopAfter(load, 20);
    console.log(report("6 (kill -9 payments between charge and settle)", counts), `\n  charges caught unsettled by the kill: ${caught}`);
    expect(caught).toBeGreaterThan(0);
    expectNothingLostOrDuplicated(counts);
  });
});
