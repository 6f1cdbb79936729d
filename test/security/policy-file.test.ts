import { loadPolicy } from "@bazaar/runtime/security/policy";
import { POLICY_FILE } from "@bazaar/shop/identities";
import { MESH_IDENTITIES } from "../../scripts/shop.js";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

// The shop's authorization policy (deploy/authz-policy.yaml), as every service loads it.

describe("the shop's policy", () => {
  it("names exactly the identities `make certs` issues certificates to", () => {
    const { identities } = parse(readFileSync(POLICY_FILE, "utf8")) as { identities: string[] };
    expect([...identities].sort()).toEqual([...MESH_IDENTITIES].sort());
  });

  it("loads: the gateway places orders, orders charges, the operator only reads", () => {
    const policy = loadPolicy(POLICY_FILE);
    expect(policy.allows("gateway", "/bazaar.orders.v1.OrderService/PlaceOrder")).toBe(true);
    expect(policy.allows("orders", "/bazaar.payments.v1.PaymentService/Charge")).toBe(true);
    expect(policy.allows("gateway", "/bazaar.payments.v1.PaymentService/Charge")).toBe(false);
    expect(policy.allows("operator", "/bazaar.catalog.v1.CatalogService/ListProducts")).toBe(true);
    expect(policy.allows("operator", "/bazaar.payments.v1.PaymentService/Refund")).toBe(false);
    expect(policy.allows("operator", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")).toBe(true);
  });
});
