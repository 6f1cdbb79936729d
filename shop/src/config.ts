import { baseServiceConfig } from "@bazaar/runtime/config";
import { POLICY_FILE } from "./identities.js";

/** A shop service's base configuration: the runtime's variables, defaulting to the shop's authorization policy. */
export const serviceConfig = () => baseServiceConfig({ policyFile: POLICY_FILE });
