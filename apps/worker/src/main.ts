import { runMain } from "@holdout/contracts";
import { startWorker } from "./app.ts";
import { loadWorkerConfig } from "./config.ts";
import { createLogger } from "./logger.ts";

async function main() {
  const config = loadWorkerConfig(process.env);
  const log = createLogger(config.LOG_LEVEL);
  const running = await startWorker(config, log);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, "shutting down; waiting for the running evaluation");
    void running.close().then(() => log.info("stopped"));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

runMain(main);
