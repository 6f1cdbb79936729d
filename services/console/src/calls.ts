import { InventoryServiceService } from "@bazaar/gen/bazaar/inventory/v1/inventory";

/** The one service the console calls over gRPC (stock levels for its catalog); the shop itself it uses through the gateway. */
export const consoleCalls = {
  inventory: { service: InventoryServiceService, address: "INVENTORY_ADDR" },
} as const;
