import { createDb, type Db } from "@holdout/db";
import { loadCliDbConfig } from "./config.ts";

/** A mistake in what the user asked for: main prints it as one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

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
