/**
 * The development console in a real browser (Debian's chromium, driven by
 * playwright-core) against a whole mesh started as `make up FAULTS=1` starts
 * it: the page loads with every node healthy, an order placed from the page is
 * CONFIRMED and shows in the event feed, a declined card shows the rejection,
 * a fault switched on from the page rejects orders until it is switched off,
 * and a stopped service turns its node red, then back.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, startMesh } from "../support/mesh.js";

/** Debian's package; CHROMIUM_PATH points elsewhere (another distribution, a developer's machine). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = 30_000;

let mesh: Mesh;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  mesh = await startMesh({ BAZAAR_FAULTS: "1" }, { console: true });
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  // The browser also logs each non-2xx answer as an error; the declined card and the fault answer 409 and 503 on purpose.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) pageErrors.push(message.text());
  });
  await page.goto(`${mesh.consoleUrl}/console`);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await mesh?.stop();
}, 60_000);

const node = (id: string) => page.locator(`[data-node="${id}"]`);

/** As alice, put one unit of `productId` in the cart and pay for it with `token`. */
async function order(productId: string, token: string): Promise<void> {
  await page.locator("#customer").selectOption("alice");
  const row = page.locator(`tr[data-product="${productId}"]`);
  await row.getByRole("button", { name: "Add", exact: true }).click();
  await page.locator("#payment-token").selectOption(token);
  await page.locator("#place-order").click();
}

describe("the development console in a browser", () => {
  it("loads with every node of the mesh healthy and its stream live", async () => {
    await expect.poll(() => page.locator("[data-connection]").textContent(), { timeout: WAIT_MS }).toBe("live");
    for (const id of ["gateway", "catalog", "inventory", "payments", "notifications", "orders", "nats"]) {
      await expect.poll(() => node(id).getAttribute("data-health"), { timeout: WAIT_MS, message: id }).toBe("SERVING");
    }
  }, 60_000);

  it("places an order that ends CONFIRMED and travels through the event feed", async () => {
    await page.locator('tr[data-product="v60-dripper"]').waitFor({ timeout: WAIT_MS });
    await order("v60-dripper", "tok_visa");
    const placed = page.locator("[data-order]").first();
    await placed.waitFor({ timeout: WAIT_MS });
    const orderId = await placed.getAttribute("data-order");
    expect(orderId).toMatch(/^ord_/);
    await expect.poll(() => placed.locator("[data-order-status]").textContent(), { timeout: WAIT_MS }).toContain("CONFIRMED");
    for (const subject of ["orders.order.placed", "payments.payment.captured"]) {
      await page.locator(`li[data-feed-subject="${subject}"][data-feed-order="${orderId}"]`).waitFor({ timeout: WAIT_MS });
    }
  }, 60_000);

  it("shows a declined card's rejection, and the rejection in the feed", async () => {
    const rejectedBefore = await page.locator('li[data-feed-subject="orders.order.rejected"]').count();
    await order("v60-dripper", "tok_declined");
    await expect.poll(() => page.locator("#shop-message").textContent(), { timeout: WAIT_MS }).toMatch(/declined/i);
    await expect.poll(() => page.locator('li[data-feed-subject="orders.order.rejected"]').count(), { timeout: WAIT_MS }).toBeGreaterThan(rejectedBefore);
  }, 60_000);

  it("switches a fault on from the page: payments fails, orders are rejected until it is switched off", async () => {
    await page.locator('[data-fault="payments/fail"]').click();
    await page.locator('[data-fault-off="payments/fail"]').waitFor({ timeout: WAIT_MS });
    await order("v60-dripper", "tok_visa");
    await expect.poll(() => page.locator("#shop-message").textContent(), { timeout: WAIT_MS }).toMatch(/unavailable|payment/i);
    await page.locator('[data-fault-off="payments/fail"]').click();
    await expect.poll(() => page.locator('[data-fault-off="payments/fail"]').count(), { timeout: WAIT_MS }).toBe(0);
  }, 90_000);

  it("turns a stopped service's node red, and back when it serves again", async () => {
    const notifications = mesh.process("notifications");
    await notifications.stop();
    await expect.poll(() => node("notifications").getAttribute("data-health"), { timeout: WAIT_MS }).not.toBe("SERVING");
    await notifications.start();
    await expect.poll(() => node("notifications").getAttribute("data-health"), { timeout: WAIT_MS }).toBe("SERVING");
  }, 120_000);

  it("raised no script error in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});
