import pg from "pg";

/**
 * One database and one login per service, as deploy/postgres/init.sql makes them
 * for compose and Kubernetes: the role owns its database and nobody else may
 * connect to it, so a service reaches only its own data, as it would on a server
 * of its own. Safe to run again: what exists is kept, the password is set anew.
 */
export async function ensureOwnDatabase(superuserUrl: string, name: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${JSON.stringify(name)}`);
  const client = new pg.Client(superuserUrl);
  await client.connect();
  try {
    const role = await client.query("select 1 from pg_roles where rolname = $1", [name]);
    // Identifiers cannot be parameters; `name` is checked above and the password is quoted by the server.
    const quotedPassword = (await client.query<{ quoted: string }>("select quote_literal($1) as quoted", [password])).rows[0]!.quoted;
    await client.query(`${role.rowCount === 0 ? "create" : "alter"} role ${name} login password ${quotedPassword}`);
    const database = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (database.rowCount === 0) await client.query(`create database ${name} owner ${name}`);
    await client.query(`revoke all on database ${name} from public`);
  } finally {
    await client.end();
  }
}
