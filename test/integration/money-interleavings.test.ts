import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Random } from "../fuzz/support/random.js";
import { CHARGE_SCRIPTS, type ChargeScript, RETRY_SCRIPTS, type RetryScript, tokenFor } from "./support/held-card-network.js";
import { booksOf, networkViolations, orderViolations, stockViolations } from "./support/money-books.js";
import { type MoneyMesh, startMoneyMesh } from "./support/money-mesh.js";

// The money-and-stock invariant over the real orders, payments and inventory: per
// round one order whose card charge is held in flight, then the things that can
// happen to it in a seeded random order, then everything settled; after which the
// order is charged and its stock sold if and only if it is CONFIRMED.
// MONEY_INTERLEAVING_SEED replays a run (the seed is in every failure message);
// MONEY_INTERLEAVING_ROUNDS sets how many orders it places.

const SEED = Number(process.env.MONEY_INTERLEAVING_SEED) || Date.now() % 100_000;
const ROUNDS = Number(process.env.MONEY_INTERLEAVING_ROUNDS) || 60;
const PRODUCT = "v60-dripper";
/** Stock enough for every round, so no order is rejected for want of it. */
const OPENING_STOCK = 1000;
/** How many settle passes (deliver, recover, sweep) may still change something before the books count as never settling. */
const MAX_SETTLE_PASSES = 10;

type Step = "answer" | "sweep" | "cancel" | "deliver" | "recover";
const STEPS: readonly Step[] = ["answer", "sweep", "cancel", "deliver", "recover"];

let mesh: MoneyMesh;

beforeAll(async () => {
  mesh = await startMoneyMesh();
  await mesh.deps.inventory.db.query("update stock set available = $2 where product_id = $1", [PRODUCT, OPENING_STOCK]);
});
afterAll(async () => {
  mesh?.network.answer();
  await mesh?.stop();
});

/** One round's story, for the failure message. */
interface Round {
  seed: number;
  round: number;
  charge: ChargeScript;
  retry: RetryScript;
  compensationsLost: boolean;
  trace: string[];
}

/**
 * Deliver a random share of the events not delivered yet, in a random order
 * (events of different subjects reach consumers in no set order), some twice: a
 * redelivery must change nothing. Everything, each once, when `all`.
 */
async function deliver(random: Random, story: Round, all = false): Promise<number> {
  const pending = shuffled(random, await mesh.delivery.pending());
  const chosen = all ? pending : pending.slice(0, random.int(0, pending.length));
  for (const delivery of chosen) {
    await mesh.delivery.deliver(delivery);
    if (!all && random.chance(0.3)) {
      const again = await mesh.delivery.deliver(delivery);
      expect(again, `${delivery.subject} took effect twice at ${delivery.consumer.service}: ${JSON.stringify(story)}`).toBe(false);
    }
  }
  story.trace.push(`deliver ${chosen.map((delivery) => `${delivery.subject.split(".").at(-1)}→${delivery.consumer.service}`).join(", ") || "nothing"}`);
  return chosen.length;
}

function shuffled<T>(random: Random, items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * One order: placed with its charge held, then random steps, then everything
 * settled; the invariant checked. Each step runs to its end before the next, so
 * a seed replays the same interleaving; "answer" lets the network's answer
 * through and waits for PlaceOrder's outcome.
 */
async function playRound(random: Random, story: Round, idempotencyKey: string): Promise<void> {
  const { asked } = mesh.network.next(story.charge, story.retry);
  const placing = mesh.orders
    .placeOrder({ customerId: "prop", items: [{ productId: PRODUCT, quantity: random.int(1, 3) }], paymentToken: tokenFor(story.charge), idempotencyKey })
    .then(
      () => "OK",
      (error: ServiceError) => `${status[error.code]} ${error.details}`,
    );
  // From here on the saga holds stock and waits on the network's answer.
  const first = await Promise.race([asked.then(() => "asked"), placing.then((outcome) => `PlaceOrder ended (${outcome}) before it charged`)]);
  expect(first, JSON.stringify(story)).toBe("asked");
  const [placed] = await mesh.deps.orders.db.query<{ id: string }>("select id from orders where idempotency_key = $1", [idempotencyKey]);
  const orderId = placed!.id;

  for (let i = random.int(1, 7); i > 0; i--) {
    const step = random.pick(STEPS);
    if (step === "answer") {
      mesh.network.answer();
      story.trace.push(`answer: PlaceOrder ${await placing}`);
    }
    if (step === "sweep") story.trace.push(`sweep: rejected ${(await mesh.sweep()).length}`);
    if (step === "cancel") {
      const cancelled = await mesh.orders.cancelOrder({ orderId, reason: "changed my mind" }).then(() => "OK", (error: ServiceError) => status[error.code]);
      story.trace.push(`cancel: ${cancelled}`);
    }
    if (step === "deliver") await deliver(random, story);
    if (step === "recover") story.trace.push(`recover: ${JSON.stringify(await mesh.recover())}`);
  }

  // Settle: the answer comes, PlaceOrder ends, and events, recovery and the sweep run until nothing changes.
  mesh.network.answer();
  story.trace.push(`settle: PlaceOrder ${await placing}`);
  let passes = 0;
  for (; passes < MAX_SETTLE_PASSES; passes++) {
    const changes = (await deliver(random, story, true)) + (await mesh.recover()).length + (await mesh.sweep()).length;
    if (changes === 0) break;
  }
  expect(passes, `the books never settled: ${JSON.stringify(story)}`).toBeLessThan(MAX_SETTLE_PASSES);

  const books = await booksOf({ orders: mesh.deps.orders.db, payments: mesh.deps.payments.db, inventory: mesh.deps.inventory.db }, orderId);
  const violations = [
    ...orderViolations(books),
    ...(await networkViolations(mesh.deps.payments.db)),
    ...(await stockViolations(mesh.deps.inventory.db, PRODUCT, OPENING_STOCK)),
  ];
  expect(violations, JSON.stringify({ ...story, orderId, books, violations })).toEqual([]);
}

/** ROUNDS orders, each with a random charge script; orders' compensation calls lost in about half of them if `loseCompensations`. */
async function playRounds(label: string, { loseCompensations }: { loseCompensations: boolean }): Promise<void> {
  const random = new Random(SEED);
  for (let round = 0; round < ROUNDS; round++) {
    const charge = random.pick(CHARGE_SCRIPTS);
    const retry = random.pick(RETRY_SCRIPTS);
    mesh.compensations.lost = loseCompensations && random.chance(0.5);
    await playRound(random, { seed: SEED, round, charge, retry, compensationsLost: mesh.compensations.lost, trace: [] }, `${label}-round-${round}`);
  }
  mesh.compensations.lost = false;
}

describe("any interleaving of a held charge with the sweep, a cancel, events and charge recovery", () => {
  it(`charges an order and sells its stock if and only if it ends CONFIRMED (seed ${SEED})`, async () => {
    await playRounds("delivered", { loseCompensations: false });
  });

  // Orders' own compensation calls (refund, release) lost: only the events undo. MONEY_INTERLEAVING_SEED=1 found,
  // in round 6, what payments used to miss: an order rejected while its first charge was in flight, that charge
  // failing without moving money (its PENDING row, and a refund owed on it, deleted), orders' client retrying the
  // charge under a new payment id, captured. Payments now remembers given-up orders by order id.
  it(`still does when orders' compensation calls are lost and only events undo (seed ${SEED})`, async () => {
    await playRounds("lost", { loseCompensations: true });
  });
});
