import { randomUUID } from "node:crypto";
import { signCustomerToken, type TokenConfig } from "@bazaar/shop/customer-token";
import { type ClientsOf } from "@bazaar/runtime/grpc/calls";
import { type Answer, ConsoleInputError } from "./answer.js";
import { type consoleCalls } from "./calls.js";

/** Who the page can be: demo customers of the development issuer (their tokens are signed here, never sent to the page). */
export const DEMO_CUSTOMERS = [
  { id: "alice", name: "Alice" },
  { id: "bob", name: "Bob" },
  { id: "carol", name: "Carol" },
] as const;

/** The simulated card provider's test tokens (services/payments/src/provider.ts), as the page offers them. */
export const PAYMENT_TOKENS = [
  { token: "tok_visa", label: "Visa (approved)" },
  { token: "tok_mastercard", label: "Mastercard (approved)" },
  { token: "tok_declined", label: "Declined card" },
  { token: "tok_insufficient_funds", label: "Insufficient funds" },
  { token: "tok_timeout", label: "Provider never answers" },
] as const;

/**
 * The shop as the page uses it: the gateway's HTTP API, called as a browser
 * would, with the chosen demo customer's token added here. The page never holds
 * a token: it names a demo customer, and only those.
 */
export class ShopProxy {
  constructor(
    private readonly gatewayUrl: string,
    private readonly tokens: TokenConfig,
    private readonly clients: ClientsOf<typeof consoleCalls>,
  ) {}

  /** The catalog's first 100 products with their prices, and each one's stock from inventory (null when it cannot say). */
  async products(): Promise<Answer> {
    const listed = await this.call("GET", "/api/products?page_size=100");
    if (listed.status !== 200) return listed;
    const products = ((listed.body as { products?: Array<{ id: string; name: string; price?: { currencyCode?: string; minorUnits?: string | number } }> }).products ?? []);
    const stock = await Promise.all(
      products.map((product) =>
        this.clients.inventory.getStock({ productId: product.id }).then(
          (response) => response.stock?.available ?? null,
          () => null,
        ),
      ),
    );
    return {
      status: 200,
      body: {
        products: products.map((product, i) => ({
          id: product.id,
          name: product.name,
          priceMinor: Number(product.price?.minorUnits ?? 0),
          currencyCode: product.price?.currencyCode ?? "",
          available: stock[i],
        })),
      },
    };
  }

  placeOrder(body: unknown): Promise<Answer> {
    const { customerId, items, paymentToken } = (typeof body === "object" && body !== null ? body : {}) as { customerId?: unknown; items?: unknown; paymentToken?: unknown };
    const customer = demoCustomer(customerId);
    if (!Array.isArray(items)) throw new ConsoleInputError("items: expected a list of {productId, quantity}");
    const lines = items.map((item: { productId?: unknown; quantity?: unknown }) => ({ product_id: item?.productId, quantity: item?.quantity }));
    // A fresh key per click: the page's retry of one click is not a concern here, a second click is a second order.
    return this.call("POST", "/api/orders", customer, { items: lines, payment_token: paymentToken }, { "idempotency-key": `console-${randomUUID()}` });
  }

  order(orderId: string, customerId: unknown): Promise<Answer> {
    return this.call("GET", `/api/orders/${encodeURIComponent(orderId)}`, demoCustomer(customerId));
  }

  cancelOrder(orderId: string, customerId: unknown): Promise<Answer> {
    return this.call("POST", `/api/orders/${encodeURIComponent(orderId)}/cancel`, demoCustomer(customerId), { reason: "cancelled from the console" });
  }

  notifications(customerId: unknown): Promise<Answer> {
    const customer = demoCustomer(customerId);
    return this.call("GET", `/api/customers/${customer}/notifications?page_size=50`, customer);
  }

  private async call(method: string, path: string, customerId?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const sent: Record<string, string> = { ...headers };
    if (customerId !== undefined) sent.authorization = `Bearer ${await signCustomerToken(this.tokens, customerId, { ttlSeconds: 300 })}`;
    if (body !== undefined) sent["content-type"] = "application/json";
    const response = await fetch(`${this.gatewayUrl}${path}`, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? {} : JSON.parse(text);
    } catch {
      parsed = { error: { code: "UNAVAILABLE", message: `the gateway answered ${response.status} without JSON` } };
    }
    return { status: response.status, body: parsed };
  }
}

function demoCustomer(customerId: unknown): string {
  const customer = DEMO_CUSTOMERS.find((candidate) => candidate.id === customerId);
  if (customer === undefined) throw new ConsoleInputError(`customer: expected one of the demo customers (${DEMO_CUSTOMERS.map((c) => c.id).join(", ")}), got ${JSON.stringify(customerId ?? null)}`);
  return customer.id;
}
