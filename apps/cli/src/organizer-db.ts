import { createDb, type Db } from "@holdout/db";
import { loadCliDbConfig } from "./config.ts";
import { UsageError } from "./usage-error.ts";

export { UsageError };

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs an organizer command against the database: one small connection, always closed. Errors of
 * the given classes are the user's doing (a taken name, say) and become UsageErrors.
 */
export async function withOrganizerDb(
  run: (db: Db, config: ReturnType<typeof loadCliDbConfig>) => Promise<void>,
  userErrors: readonly ErrorClass[] = [],
): Promise<void> {
  const config = loadCliDbConfig(process.env);
  const db = createDb(config.DATABASE_URL, { poolSize: 1 });
  try {
    await run(db, config);
  } catch (err) {
    if (userErrors.some((E) => err instanceof E)) {
      throw new UsageError((err as Error).message, { cause: err });
    }
    throw err;
  } finally {
    await db.$disconnect();
  }
}
