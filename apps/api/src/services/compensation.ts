import type { FastifyBaseLogger } from "fastify";

// Undo steps of an operation made of several steps (see docs/architecture.md, "A submission's
// path": a quota slot, stored bytes, a record). When a later step fails, every earlier one is
// undone, newest first, and an undo that throws must not keep the ones after it from running: a
// failed file removal must never leave the team's quota slot taken.

interface Undo {
  /** What the undo does, for the log line if it fails ("give the quota slot back"). */
  what: string;
  run: () => Promise<unknown>;
}

export class Compensations {
  readonly #undos: Undo[] = [];

  constructor(private readonly log: Pick<FastifyBaseLogger, "error">) {}

  /** Registers the undo of a step that has just succeeded. */
  push(what: string, run: () => Promise<unknown>): void {
    this.#undos.push({ what, run });
  }

  /**
   * Runs every registered undo, newest first, each once; one that throws is logged and the others
   * still run. Returns what failed (the caller's own error is what it reports, never these).
   */
  async run(): Promise<unknown[]> {
    const failures: unknown[] = [];
    for (const undo of this.#undos.splice(0).reverse()) {
      try {
        await undo.run();
      } catch (err) {
        failures.push(err);
        this.log.error({ err }, `could not ${undo.what}`);
      }
    }
    return failures;
  }
}
