import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./env.ts";

const CLI = path.join(REPO_ROOT, "apps", "cli", "bin", "holdout.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `holdout` command with only the given environment (and `stdin`, if any). */
export function holdout(args: string[], env: Record<string, string>, stdin?: string): Promise<CliRun> {
  return runScript(CLI, args, env, { stdin });
}

/**
 * Runs a Node script (a `holdout` command: the checkout's, or one installed from the server's
 * package) with only the given environment, in `cwd` if given.
 */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  opts: { stdin?: string; cwd?: string } = {},
): Promise<CliRun> {
  const { stdin, cwd } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      ...(cwd ? { cwd } : {}),
      env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), ...env },
      stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    // A command that exits before reading its input (a usage error) closes the pipe: its exit code tells why.
    child.stdin?.on("error", () => {});
    child.stdin?.end(stdin);
  });
}
