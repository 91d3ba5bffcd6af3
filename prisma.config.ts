import { randomUUID } from "node:crypto";
import pg from "pg";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// Offline Prisma Migrate (prisma 6.19.3): `engine: "js"` + an adapter makes the CLI run the WASM
// schema engine bundled in the `prisma` package, so no schema-engine binary is downloaded. This is
// what lets migrations run on air-gapped hosts. The fixes below are for the CLI only; the
// application's client (packages/db) uses a plain PrismaPg.

// prisma/prisma#27403: adapter-pg 6.x cannot map the catalog types `name` (oid 19) and `"char"`
// (oid 18) that the schema engine reads from pg_catalog; report them (and their arrays) as text.
const OID_AS_TEXT: Record<number, number> = { 19: 25, 18: 25, 1003: 1009, 1002: 1009 };

interface FieldLike {
  dataTypeID: number;
}
function remapTypes<T>(result: T): T {
  const results = (Array.isArray(result) ? result : [result]) as { fields?: FieldLike[] }[];
  for (const r of results) {
    for (const field of r?.fields ?? []) {
      const mapped = OID_AS_TEXT[field.dataTypeID];
      if (mapped !== undefined) field.dataTypeID = mapped;
    }
  }
  return result;
}

class CatalogSafeClient extends pg.Client {
  // pg's query() has many overloads; this wrapper forwards them all unchanged.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const callbackIndex = args.findIndex((a) => typeof a === "function");
    if (callbackIndex >= 0) {
      const callback = args[callbackIndex] as (err: unknown, res: unknown) => void;
      args[callbackIndex] = (err: unknown, res: unknown) => callback(err, err ? res : remapTypes(res));
      // eslint-disable-next-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any
      return (super.query as any)(...args);
    }
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any
    const pending = (super.query as any)(...args);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call
    return pending && typeof pending.then === "function" ? pending.then(remapTypes) : pending;
  }
}

// adapter-pg 6.x would use the MAIN database as "shadow" when given a connection string, and drops
// the shadow before closing its pool. Use a real throwaway database, dropped after its pool closes.
class MigratingPrismaPg extends PrismaPg {
  readonly #url: string;
  constructor(url: string) {
    // allowExitOnIdle: the CLI never closes this pool; without it each command idles for 10 s.
    super({ connectionString: url, Client: CatalogSafeClient, allowExitOnIdle: true });
    this.#url = url;
  }

  override async connectToShadowDb() {
    const admin = new pg.Client({ connectionString: this.#url });
    await admin.connect();
    const database = `prisma_shadow_${randomUUID().replaceAll("-", "")}`;
    await admin.query(`CREATE DATABASE "${database}"`);
    const shadowUrl = new URL(this.#url);
    shadowUrl.pathname = `/${database}`;
    const shadow = await new PrismaPg({
      connectionString: shadowUrl.toString(),
      Client: CatalogSafeClient,
      allowExitOnIdle: true,
    }).connect();
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      try {
        await dispose();
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
        await admin.end();
      }
    };
    return shadow;
  }
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter() {
    const url = process.env.DATABASE_URL;
    if (!url)
      throw new Error("DATABASE_URL is not set (e.g. postgresql://holdout:holdout@127.0.0.1:5432/holdout)");
    return Promise.resolve(new MigratingPrismaPg(url));
  },
});
