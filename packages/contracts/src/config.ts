import { z } from "zod";

export class ConfigError extends Error {
  constructor(
    readonly app: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration for ${app}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses an app's environment with its zod schema, once, at start. Every problem is reported at
 * once, each naming the variable, so an operator fixes the whole file in one go.
 */
export function parseConfig<S extends z.ZodType>(app: string, schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(app, problems);
}

// Building blocks shared by the apps' schemas.
export const postgresUrl = z
  .string({ error: "is required (e.g. postgresql://holdout:holdout@127.0.0.1:5432/holdout)" })
  .regex(/^postgres(ql)?:\/\//, { error: "must be a postgresql:// URL" });

export const redisUrl = z
  .string({ error: "is required (e.g. redis://127.0.0.1:6379)" })
  .regex(/^rediss?:\/\//, { error: "must be a redis:// URL" });

export const directory = (example: string) =>
  z.string({ error: `is required (a directory, e.g. ${example})` }).min(1, { error: "must not be empty" });

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A setting that is on or off: true/false or 1/0. */
export const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { error: "must be true or false" })
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

export const queuePrefix = z
  .string()
  .regex(/^[a-zA-Z0-9_-]+$/, { error: "may hold only letters, digits, _ and -" })
  .default("holdout");

/**
 * Runs a process entry point: a configuration problem prints its message and exits 2 (the operator
 * must fix the environment); anything else prints the error and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exitCode = 2;
      return;
    }
    console.error(err);
    process.exitCode = 1;
  });
}
