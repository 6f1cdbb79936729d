import { signCustomerToken } from "@bazaar/shop/customer-token";
import { devAuthConfig } from "../../scripts/dev-env.js";

/**
 * The Authorization header of `customerId` for a gateway of startMesh or
 * `make up`: both take AUTH_JWT_SECRET from the environment, else from
 * deploy/dev.env, and so does this.
 */
export async function devBearer(customerId: string): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await signCustomerToken(devAuthConfig(), customerId)}` };
}
