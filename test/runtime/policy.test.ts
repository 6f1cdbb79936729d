import { describe, expect, it } from "vitest";
import { identityOf, identityUri } from "@bazaar/runtime/security/identity";
import { loadPolicy, parsePolicy } from "@bazaar/runtime/security/policy";
import { configErrorOf } from "@bazaar/runtime/testing";

/** The identities every policy below declares, as deploy/authz-policy.yaml declares the shop's. */
const IDENTITIES = "identities: [catalog, inventory, orders, payments, notifications, gateway, operator]\n";
const parse = (text: string) => parsePolicy(IDENTITIES + text, "policy.yaml");
const errorOf = (text: string, { withIdentities = true } = {}) => configErrorOf(() => parsePolicy((withIdentities ? IDENTITIES : "") + text, "policy.yaml"));

describe("the authorization policy", () => {
  it("allows exactly the listed methods, whole services with /*, and NO_SIDE_EFFECTS methods with reads", () => {
    const policy = parse(`
anyone: [grpc.health.v1.Health/Check]
callers:
  orders: [bazaar.payments.v1.PaymentService/Charge]
  gateway: [bazaar.orders.v1.OrderService/*]
  operator: [reads]
`);
    expect(policy.allows("orders", "/bazaar.payments.v1.PaymentService/Charge")).toBe(true);
    expect(policy.allows("orders", "/bazaar.payments.v1.PaymentService/Refund")).toBe(false);
    expect(policy.allows("gateway", "/bazaar.orders.v1.OrderService/CancelOrder")).toBe(true);
    expect(policy.allows("gateway", "/bazaar.payments.v1.PaymentService/Charge")).toBe(false);
    // reads: the contract's NO_SIDE_EFFECTS methods, nothing else.
    expect(policy.allows("operator", "/bazaar.payments.v1.PaymentService/GetPayment")).toBe(true);
    expect(policy.allows("operator", "/bazaar.inventory.v1.InventoryService/GetStock")).toBe(true);
    expect(policy.allows("operator", "/bazaar.inventory.v1.InventoryService/ReserveStock")).toBe(false);
    expect(policy.allows("operator", "/bazaar.orders.v1.OrderService/PlaceOrder")).toBe(false);
    // anyone: every identity the CA issues, and only those.
    expect(policy.allows("catalog", "/grpc.health.v1.Health/Check")).toBe(true);
    expect(policy.allows("catalog", "/grpc.health.v1.Health/Watch")).toBe(false);
    expect(policy.allows("mallory", "/grpc.health.v1.Health/Check")).toBe(false);
  });

  it("rejects a method, service or identity that does not exist, naming the entry", () => {
    expect(errorOf("callers:\n  orders: [bazaar.payments.v1.PaymentService/Chrage]\n")).toBe(
      'policy.yaml: callers.orders: "bazaar.payments.v1.PaymentService/Chrage" names no method of the contracts',
    );
    expect(errorOf("callers:\n  orders: [bazaar.shipping.v1.ShippingService/*]\n")).toContain('"bazaar.shipping.v1.ShippingService/*" names no method');
    expect(errorOf("callers:\n  odrers: [reads]\n")).toContain("callers.odrers: unknown identity");
    expect(errorOf("callers:\n  orders: [reads]\n", { withIdentities: false })).toContain('expected an "identities:" list');
    expect(errorOf("anyone: [nope.Nope/*]\ncallers: {}\n")).toContain('anyone: "nope.Nope/*" names no method');
  });

  it("rejects a malformed file plainly", () => {
    expect(errorOf("callers: [orders]\n")).toContain('expected a "callers:" map');
    expect(errorOf("callers:\n  orders: bazaar.payments.v1.PaymentService/Charge\n")).toContain("callers.orders: expected a list");
    expect(errorOf("caller:\n  orders: []\n")).toContain("unknown key caller (expected identities, anyone, callers)");
    expect(errorOf("callers: {a: [}\n")).toContain("not valid YAML");
    expect(() => loadPolicy("/nonexistent/policy.yaml")).toThrow(/AUTHZ_POLICY_FILE: cannot read \/nonexistent\/policy.yaml/);
  });
});

describe("identities in certificates", () => {
  it("reads the spiffe://bazaar.local/<name> URI SAN, and nothing else", () => {
    expect(identityOf({ subjectaltname: `DNS:orders, ${identityUri("orders")}`.replace("spiffe", "URI:spiffe") })).toBe("orders");
    expect(identityOf({ subjectaltname: "DNS:orders, IP Address:127.0.0.1" })).toBeUndefined();
    expect(identityOf({ subjectaltname: "URI:spiffe://evil.example/orders" })).toBeUndefined();
    expect(identityOf({ subjectaltname: "URI:spiffe://bazaar.local/Orders/x" })).toBeUndefined();
    expect(identityOf(undefined)).toBeUndefined();
    expect(() => identityUri("Not A Name")).toThrow(/not an identity name/);
  });
});
