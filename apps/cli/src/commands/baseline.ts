import { openAsBlob } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { formatBytes } from "@holdout/contracts";
import type { BaselineList, BaselineView } from "@holdout/contracts/http";
import { getJson, remoteFrom, request, type Remote } from "../api-client.ts";
import { printableLine, terminalJson } from "../terminal-text.ts";
import { UsageError } from "../usage-error.ts";

// `holdout baseline …`: an organizer's baselines (docs/organizer-guide.md, "Baselines"), over the
// server's admin API with an organizer's token, so an entry takes the same upload path (checks,
// run, scoring) as a team's.

interface RemoteOptions {
  server?: string;
  token?: string;
  competition?: string;
}

interface SubmitOptions extends RemoteOptions {
  name: string;
  institution?: string;
  model?: string;
  description?: string;
  link?: string;
  ensemble?: boolean;
  image?: string;
  bundle?: string;
  command?: string;
  json?: boolean;
}

/** The admin API of the competition named (a competition's own scope), or of the server's default. */
function apiBase(competition: string | undefined): string {
  return competition === undefined ? "/api/v1" : `/api/v1/competitions/${encodeURIComponent(competition)}`;
}

async function send<T>(remote: Remote, urlPath: string, body: FormData | object): Promise<T> {
  const form = body instanceof FormData;
  const res = await request(remote, urlPath, {
    method: "POST",
    headers: form ? {} : { "content-type": "application/json" },
    body: form ? body : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

const remoteOptions = (cmd: Command) =>
  cmd
    .option("--server <url>", "the Holdout server (default: $HOLDOUT_SERVER)")
    .option("--token <token>", "an organizer's API token (default: $HOLDOUT_TOKEN)")
    .option("--competition <slug>", "the competition (default: the server's default competition)");

export function baselineCommand(): Command {
  const baseline = new Command("baseline").description(
    "an organizer's baselines: entries shown with a baseline mark, ranked, never the leader, on no quota",
  );
  remoteOptions(
    baseline
      .command("submit")
      .description(
        "submit a baseline entry (a `docker save` tarball or a code bundle archive); the baseline is created on its first entry",
      ),
  )
    .requiredOption("--name <name>", 'the baseline\'s name, shown as the team (e.g. "Stanford Baseline")')
    .option("--institution <text>", "its institution (replaces the one it had)")
    .option("--model <name>", "the model's name on the leaderboard (default: the baseline's name)")
    .option("--description <text>", "a description of the model")
    .option("--link <url>", "a link to a paper or code")
    .option("--ensemble", "the model is an ensemble")
    .option("--image <file>", "a `docker save` tarball (plain or gzipped)")
    .option("--bundle <file>", "a code bundle: a zip or tar.gz archive, run with --command")
    .option(
      "--command <cmd>",
      "for --bundle: the command to run (default `python3 src/predict.py {input} {output}`)",
    )
    .option("--json", "print {baseline, submission} as JSON")
    .action(async (opts: SubmitOptions) => {
      const remote = remoteFrom(opts, process.env, true);
      const base = apiBase(opts.competition);
      if ((opts.image === undefined) === (opts.bundle === undefined)) {
        throw new UsageError("give exactly one of --image FILE, --bundle FILE");
      }
      if (opts.command !== undefined && opts.bundle === undefined) {
        throw new UsageError("--command applies to --bundle only; an image runs its own entrypoint");
      }
      const file = (opts.image ?? opts.bundle)!;
      const info = await stat(file).catch(() => null);
      if (!info?.isFile())
        throw new UsageError(`${opts.image ? "--image" : "--bundle"} ${file}: no such file`);

      const team = await send<BaselineView>(remote, `${base}/admin/baselines`, {
        name: opts.name,
        ...(opts.institution !== undefined ? { institution: opts.institution } : {}),
      });
      // Fields first, then the file: the order the server reads a submission in.
      const form = new FormData();
      form.append("model", opts.model ?? opts.name);
      if (opts.description) form.append("description", opts.description);
      if (opts.link) form.append("link", opts.link);
      if (opts.ensemble) form.append("ensemble", "true");
      if (opts.command) form.append("command", opts.command);
      // A Blob backed by the file: streamed as it is sent, never read into memory.
      form.append(opts.image ? "image" : "bundle", await openAsBlob(file), path.basename(file));
      if (!opts.json) console.error(`sending ${file} (${formatBytes(info.size)}) to ${remote.server}`);
      const accepted = await send<{ id: string; state: string; statusUrl: string }>(
        remote,
        `${base}/admin/baselines/${team.id}/submissions`,
        form,
      );
      if (opts.json) {
        console.log(terminalJson({ baseline: team, submission: accepted }));
        return;
      }
      console.log(`baseline "${printableLine(team.name)}" (id ${team.id})`);
      console.log(`submission ${accepted.id}: ${accepted.state}`);
      console.log(`its status: ${remote.server}${accepted.statusUrl}`);
    });

  remoteOptions(baseline.command("list").description("the competition's baselines"))
    .option("--json", "print the server's JSON")
    .action(async (opts: RemoteOptions & { json?: boolean }) => {
      const remote = remoteFrom(opts, process.env, true);
      const list = await getJson<BaselineList>(remote, `${apiBase(opts.competition)}/admin/baselines`);
      if (opts.json) {
        console.log(terminalJson(list, 2));
        return;
      }
      if (list.baselines.length === 0) console.log("(no baselines)");
      for (const b of list.baselines) {
        const where = b.institution ? ` · ${printableLine(b.institution)}` : "";
        console.log(`${b.id}  ${printableLine(b.name)}${where}  (${b.submissions ?? 0} entries)`);
      }
    });
  return baseline;
}
