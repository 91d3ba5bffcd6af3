import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { ScorerName } from "@holdout/scorer";
import { readTestsetManifest } from "./manifest.ts";
import { inspectTestset } from "./validate.ts";

/** What a competition records of its sets once they are checked (docs/architecture.md, "Competitions and phases"). */
export interface CheckedCompetitionSets {
  /** The scorer the test set's manifest names. */
  scorer: ScorerName;
  /** The label columns it scores, in the manifest's order. */
  tasks: string[];
  testsetSha256: string;
  devsetSha256: string | null;
}

/** A set that cannot serve the competition: which one and every problem found. */
export class CompetitionSetsError extends Error {
  constructor(
    readonly field: "testset" | "devset" | "scorer",
    readonly problems: string[],
  ) {
    const shown = problems.slice(0, 5).join("; ");
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
    super(`${field}: ${shown}${more}`);
    this.name = "CompetitionSetsError";
  }
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The SHA-256 of a directory's content: every file's relative path and its own SHA-256, in sorted
 * order, so the same set copied to another host (or another path) has the same hash, and any change
 * of a label, an image or a name changes it. A symbolic link counts by its target text, never followed.
 */
export async function contentSha256(dir: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of (await readdir(at, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      const path = join(at, entry.name);
      const name = relative(dir, path).split(sep).join("/");
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) lines.push(`link ${name} ${await readlink(path)}`);
      else if ((await lstat(path)).isFile()) lines.push(`file ${name} ${await fileSha256(path)}`);
    }
  };
  await walk(dir);
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/**
 * Checks a competition's sets before it is created: the test set (and the development set, if
 * any) must pass the full validation (docs/test-set.md), the development set must be scored the
 * same way, and a scorer the organizer named must be the one the test set's manifest names.
 * Throws CompetitionSetsError naming the set and its problems; otherwise returns what to record.
 */
export async function checkCompetitionSets(opts: {
  testsetDir: string;
  devsetDir?: string | null;
  scorer?: ScorerName;
}): Promise<CheckedCompetitionSets> {
  const inspect = async (field: "testset" | "devset", dir: string) => {
    const problems = (await inspectTestset(dir)).problems;
    if (problems.length > 0)
      throw new CompetitionSetsError(
        field,
        problems.map((p) => `${dir}: ${p}`),
      );
    return readTestsetManifest(dir);
  };
  const test = await inspect("testset", opts.testsetDir);
  if (opts.scorer !== undefined && opts.scorer !== test.scorer) {
    throw new CompetitionSetsError("scorer", [
      `${opts.scorer} was asked for, but the test set's manifest names ${test.scorer}`,
    ]);
  }
  let devsetSha256: string | null = null;
  if (opts.devsetDir) {
    const dev = await inspect("devset", opts.devsetDir);
    if (dev.scorer !== test.scorer || dev.tasks.join("\n") !== test.tasks.join("\n")) {
      throw new CompetitionSetsError("devset", [
        `${opts.devsetDir} is scored by ${dev.scorer} on ${dev.tasks.join(", ")}, the test set by ${test.scorer} on ${test.tasks.join(", ")}: they must agree`,
      ]);
    }
    devsetSha256 = await contentSha256(opts.devsetDir);
  }
  return {
    scorer: test.scorer,
    tasks: test.tasks,
    testsetSha256: await contentSha256(opts.testsetDir),
    devsetSha256,
  };
}
