import { z } from "zod";
import { env } from "@bazaar/runtime/config";
import { serviceConfig } from "@bazaar/shop/config";

/** Payments' configuration: the base variables plus its card provider's and its recovery's timing. */
export const paymentsConfig = serviceConfig().extend({
  /** How long the simulated card network takes to answer a charge (the money moves halfway). */
  CARD_PROVIDER_LATENCY_MS: env.milliseconds(20),
  /**
   * How old a PENDING charge must be before recovery asks the provider what became
   * of it: its process died before settling it (recovery.ts). Well past the
   * provider timeout, so a live charge is normally left alone.
   */
  PENDING_CHARGE_LEASE_MS: env.milliseconds(60_000),
  /** How often payments looks for such charges. */
  PENDING_CHARGE_SWEEP_MS: env.milliseconds(30_000),
});

export type PaymentsConfig = z.infer<typeof paymentsConfig>;
