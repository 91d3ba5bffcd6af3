import type { Logger } from "../logger.ts";

/** One step of a shutdown: what it closes, and how. */
export type ShutdownStep = readonly [what: string, step: () => Promise<unknown>];

/**
 * A close function that runs the steps in order, each even if an earlier one failed (a failure is
 * logged, never thrown), once: closing again returns the first close's promise.
 */
export function closeInOrder(steps: readonly ShutdownStep[], log: Logger): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      for (const [what, step] of steps) {
        await step().catch((err: unknown) => log.error({ err, step: what }, "shutdown step failed"));
      }
    })());
}
