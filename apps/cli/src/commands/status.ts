import { Command } from "commander";
import { isFinalState, isSubmissionState, logKeptNote } from "@holdout/contracts";
import type { RunLog, SubmissionDetail, TimelineEvent } from "@holdout/contracts/http";
import { COMPETITION_OPTION_HELP, getJson, remoteFrom } from "../api-client.ts";
import { followSubmission, queueLine, timelineLine } from "../follow.ts";
import { UsageError } from "../usage-error.ts";
import { printable, printableLine, terminalJson } from "../terminal-text.ts";
import { report } from "./submit.ts";

interface StatusOptions {
  server?: string;
  token?: string;
  competition?: string;
  json?: boolean;
  wait?: boolean;
  log?: string;
}

export function statusCommand(): Command {
  return new Command("status")
    .description("a submission's state, timeline, and scores or failure")
    .argument("<id>", "the submission id `holdout submit` printed")
    .option("--server <url>", "the Holdout server (default: $HOLDOUT_SERVER)")
    .option("--token <token>", "your team's API token (default: $HOLDOUT_TOKEN)")
    .option("--competition <slug>", COMPETITION_OPTION_HELP)
    .option("--wait", "follow it until it is final (exit 1 if it failed)")
    .option("--log <phase>", "print the run's log instead: smoke or hidden")
    .option("--json", "print the submission as JSON")
    .action(async (id: string, opts: StatusOptions) => {
      const remote = remoteFrom(opts, process.env, true);
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new UsageError(`${id} is not a submission id`);
      if (opts.log !== undefined) {
        if (opts.log !== "smoke" && opts.log !== "hidden")
          throw new UsageError("--log must be smoke or hidden");
        const log = await getJson<RunLog>(remote, `/api/v1/submissions/${id}/log?phase=${opts.log}`);
        if (log.text === "") {
          const s = await getJson<SubmissionDetail>(remote, `/api/v1/submissions/${id}`);
          const why = noLogReason(s, opts.log);
          console.error(`holdout: ${why.message}`);
          process.exitCode = why.exitCode;
          return;
        }
        // The model's own output: whatever it printed, nothing in it may drive the terminal.
        const text = printable(log.text);
        process.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
        // A server older than this command does not say what it kept, only whether it cut.
        const note = log.kept ? logKeptNote(log.kept) : log.truncated ? "the server cut this log" : null;
        if (note) console.error(`(${note})`);
        return;
      }
      if (opts.wait && !opts.json) {
        const final = await followSubmission(remote, id, { print: (l) => console.log(printable(l)) });
        process.exitCode = report(final);
        return;
      }
      const s = await getJson<SubmissionDetail>(remote, `/api/v1/submissions/${id}`);
      if (opts.json) {
        console.log(terminalJson(s, 2));
        return;
      }
      console.log(`submission ${s.id}  ${printableLine(s.model)}  (${printableLine(s.team)})`);
      const { events } = await getJson<{ events: TimelineEvent[] }>(
        remote,
        `/api/v1/submissions/${id}/events`,
      );
      for (const e of events) console.log(printable(timelineLine(e)));
      const queued = queueLine({
        position: s.queuePosition ?? null,
        estimatedStartAt: s.estimatedStartAt ?? null,
      });
      if (queued) console.log(queued);
      if (isSubmissionState(s.state) && isFinalState(s.state)) process.exitCode = report(s);
    });
}

/**
 * Why a run's log is empty: the run never happened (exit 1: there is no such log), or it happened
 * and printed nothing (exit 0).
 */
export function noLogReason(
  s: Pick<SubmissionDetail, "id" | "state" | "failedPhase">,
  phase: "smoke" | "hidden",
): { message: string; exitCode: number } {
  if (phase === "hidden" && s.failedPhase === "smoke") {
    return {
      message: `no hidden-run log: submission ${s.id} failed in its smoke run, before any hidden run; its log: holdout status ${s.id} --log smoke`,
      exitCode: 1,
    };
  }
  if (!isSubmissionState(s.state) || !isFinalState(s.state)) {
    return { message: `no ${phase}-run log yet: submission ${s.id} is ${s.state}`, exitCode: 1 };
  }
  if (s.state === "cancelled" || (s.state === "failed" && s.failedPhase === null)) {
    return {
      message: `no ${phase}-run log: submission ${s.id} ended (${s.state}) before its ${phase} run`,
      exitCode: 1,
    };
  }
  return { message: `the ${phase} run printed nothing (no standard output or error)`, exitCode: 0 };
}
