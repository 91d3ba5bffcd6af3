import { writeFileSync } from "node:fs";
import path from "node:path";
import { it } from "vitest";
import { spawnProcess, type Proc } from "./processes.ts";

/**
 * A guide's steps as its reader runs them: each `sh` block marked `<!-- guide:step NAME -->` in
 * docs/organizer-guide.md (or docs/participant-guide.md), pasted in order into one shell.
 */

export interface GuideStep {
  name: string;
  code: string;
  /** 1-based line of the marker, for messages. */
  line: number;
}

const MARKER = /^<!-- guide:step ([a-z0-9-]+) -->$/;

/** Every marked block, in order; a marker must be followed (blank lines apart) by a ```sh block. */
export function guideSteps(markdown: string): GuideStep[] {
  const lines = markdown.split("\n");
  const steps: GuideStep[] = [];
  lines.forEach((text, i) => {
    const name = MARKER.exec(text.trim())?.[1];
    if (name === undefined) return;
    let open = i + 1;
    while (open < lines.length && lines[open]?.trim() === "") open++;
    if (lines[open] !== "```sh")
      throw new Error(`guide:step ${name} (line ${i + 1}) is not followed by a sh block`);
    const close = lines.indexOf("```", open + 1);
    if (close === -1) throw new Error(`guide:step ${name} (line ${i + 1}): its block never ends`);
    if (steps.some((s) => s.name === name)) throw new Error(`guide:step ${name} appears twice`);
    steps.push({ name, code: lines.slice(open + 1, close).join("\n"), line: i + 1 });
  });
  return steps;
}

/**
 * One long-lived bash with `set -euo pipefail`: variables and the working directory carry over
 * from step to step, as in the organizer's terminal, and a failing command ends the shell (and
 * fails the step) instead of letting the next line run on. Each step is sourced from a file, so a
 * command that reads its standard input (docker-compose exec does) finds nothing of the next step.
 */
export class GuideShell {
  #proc: Proc;
  #dir: string;
  #doc: string;
  #count = 0;

  private constructor(proc: Proc, dir: string, doc: string) {
    this.#proc = proc;
    this.#dir = dir;
    this.#doc = doc;
  }

  /** A new shell in `cwd` with exactly `env`; `dir` holds the step files; `doc` names the guide in messages. */
  static start(
    cwd: string,
    env: Record<string, string>,
    dir: string,
    doc = "docs/organizer-guide.md",
  ): GuideShell {
    const proc = spawnProcess("guide shell", "bash", ["--noprofile", "--norc"], { cwd, env, input: true });
    proc.write("set -euo pipefail\n");
    return new GuideShell(proc, dir, doc);
  }

  /** Runs one step; resolves with what it printed, rejects with its output's end if it fails. */
  async run(step: GuideStep, timeoutMs: number): Promise<string> {
    const n = ++this.#count;
    const file = path.join(this.#dir, `step-${n}-${step.name}.sh`);
    writeFileSync(file, `${step.code}\n`);
    const [start, done] = [`__guide_start_${n}__`, `__guide_done_${n}__`];
    this.#proc.write(`echo ${start}; source ${JSON.stringify(file)}; echo ${done}\n`);
    try {
      await this.#proc.waitForLine(new RegExp(`^${done}$`), timeoutMs);
    } catch (err) {
      throw new Error(`guide:step ${step.name} (${this.#doc} line ${step.line}) failed`, {
        cause: err,
      });
    }
    const text = this.#proc.output();
    return text.slice(text.lastIndexOf(start) + start.length, text.lastIndexOf(done));
  }

  /** A shell variable's value now (empty if unset). */
  async value(name: string): Promise<string> {
    const tag = `__guide_value_${++this.#count}__`;
    this.#proc.write(`printf '%s %s\\n' ${tag} "\${${name}-}"\n`);
    const line = await this.#proc.waitForLine(new RegExp(`^${tag} `), 10_000);
    return line.slice(tag.length + 1);
  }

  async close(): Promise<void> {
    await this.#proc.stop("SIGKILL");
  }
}

/**
 * The `it` of a guide's session: each part runs only if every earlier part passed (they are one
 * person's session, each part building on the last); after a failure the rest are skipped.
 */
export function sessionParts(): (name: string, timeout: number, body: () => Promise<void>) => void {
  let broken = false;
  return (name, timeout, body) => {
    it(
      name,
      async (ctx) => {
        if (broken) ctx.skip();
        try {
          await body();
        } catch (err) {
          broken = true;
          throw err;
        }
      },
      timeout,
    );
  };
}
