import { baseServiceConfig } from "@bazaar/runtime/config";
import { POLICY_FILE } from "./identities.js";
import { PORTS, type ServiceName } from "./ports.js";

/** A shop service's base configuration: the runtime's variables, defaulting to its ports of the port map and the shop's policy. */
export const serviceConfig = (name: ServiceName) => baseServiceConfig({ ...PORTS[name], policyFile: POLICY_FILE });
