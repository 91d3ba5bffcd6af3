import { z } from "zod";
import { directory, parseConfig, positiveInt, postgresUrl, queuePrefix, redisUrl } from "@holdout/contracts";

const ApiConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default("127.0.0.1"),
  DATABASE_URL: postgresUrl,
  REDIS_URL: redisUrl,
  HOLDOUT_DATA_DIR: directory("/var/lib/holdout"),
  HOLDOUT_COMPETITION: z
    .string()
    .regex(/^[a-z0-9-]+$/, { error: "must be a slug (lowercase letters, digits, -)" })
    .default("chexpert"),
  HOLDOUT_COMPETITION_NAME: z.string().min(1).default("CheXpert"),
  /** Largest accepted upload; docker save tarballs of real models run to several GB. */
  HOLDOUT_MAX_UPLOAD_BYTES: positiveInt(8 * 1024 ** 3),
  HOLDOUT_QUEUE_PREFIX: queuePrefix,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  return parseConfig("the API", ApiConfigSchema, env);
}
