import { testCertificates } from "./test-certificates.js";
import { MESH_IDENTITIES } from "../../scripts/shop.js";

/** A fresh CA and a certificate for every identity of the shop's mesh (what `make certs` writes), once per test file. */
export const meshCertificates = () => testCertificates(MESH_IDENTITIES);
