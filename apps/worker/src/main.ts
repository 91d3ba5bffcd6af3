import { runMain } from "@holdout/contracts";
import { startWorker } from "./app.ts";
import { loadWorkerConfig } from "./config.ts";
import { createLogger } from "./logger.ts";

/**
 * The worker process, configured only by its environment. SIGTERM or SIGINT: stop taking jobs, stop
 * the running containers, hand their jobs back to the queue (another worker takes them), close every
 * connection, exit 0. A second signal while that happens exits at once (1).
 */
async function main() {
  const config = loadWorkerConfig(process.env);
  const log = createLogger(config.LOG_LEVEL);
  const running = await startWorker(config, log);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      log.warn({ signal }, "second signal during shutdown; exiting now");
      process.exit(1);
    }
    closing = true;
    log.info({ signal }, "shutting down: handing running evaluations back to the queue");
    running.close().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

runMain(main);
