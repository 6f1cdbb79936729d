import { fileURLToPath } from "node:url";
import { type Queryable } from "@bazaar/runtime/db/database";
import { type ProductSource } from "./cache.js";
import { type Product } from "./domain.js";

/** SQL for the catalog's own database. */

/** The schema and seed data, applied in order at start. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

interface ProductRow {
  id: string;
  name: string;
  description: string;
  price_minor: number;
  currency_code: string;
  categories: string[];
}

const COLUMNS = "id, name, description, price_minor, currency_code, categories";

const toProduct = (row: ProductRow): Product => ({
  id: row.id,
  name: row.name,
  description: row.description,
  price: { currencyCode: row.currency_code, minorUnits: row.price_minor },
  categories: row.categories,
});

export async function getProduct(db: Queryable, id: string): Promise<Product | undefined> {
  const rows = await db.query<ProductRow>(`select ${COLUMNS} from products where id = $1`, [id]);
  return rows[0] && toProduct(rows[0]);
}

export async function getProducts(db: Queryable, ids: string[]): Promise<Product[]> {
  const rows = await db.query<ProductRow>(`select ${COLUMNS} from products where id = any($1)`, [ids]);
  return rows.map(toProduct);
}

/** Up to `limit` products ordered by id, starting after `afterId`. */
export async function listProducts(db: Queryable, afterId: string | undefined, limit: number): Promise<Product[]> {
  const rows = await db.query<ProductRow>(
    `select ${COLUMNS} from products where $1::text is null or id > $1 order by id limit $2`,
    [afterId ?? null, limit],
  );
  return rows.map(toProduct);
}

/** The database as a ProductSource (cache.ts), for the handlers and the cache in front of it. */
export const productsIn = (db: Queryable): ProductSource => ({
  get: (id) => getProduct(db, id),
  getMany: (ids) => getProducts(db, ids),
  list: (afterId, limit) => listProducts(db, afterId, limit),
});
