import { Command } from "commander";
import * as tus from "tus-js-client";
import { formatBytes } from "@holdout/contracts";
import type { QuotaView, SubmissionDetail } from "@holdout/contracts/http";
import {
  ApiError,
  authHeaders,
  COMPETITION_OPTION_HELP,
  endpoint,
  getJson,
  pageUrl,
  remoteFrom,
  type Remote,
} from "../api-client.ts";
import { followSubmission } from "../follow.ts";
import { printable } from "../terminal-text.ts";
import { PipeSource } from "../pipe-source.ts";
import { UsageError } from "../usage-error.ts";
import { ProgressBar } from "../progress.ts";
import { failureAdvice, scoresTable } from "../render.ts";
import { sendLayered } from "../layered-upload.ts";
import { bundleDir, dockerSave, tarballFile, type UploadSource } from "../upload-source.ts";

interface SubmitOptions {
  server?: string;
  token?: string;
  competition?: string;
  image?: string;
  tarball?: string;
  bundle?: string;
  command?: string;
  model: string;
  description?: string;
  link?: string;
  ensemble?: boolean;
  /** --no-layers: send the whole `docker save` archive, as before layered uploads. */
  layers: boolean;
  wait?: boolean;
  chunkMib: string;
}

/** Where a broken connection is retried: the server's offset is asked, then the upload goes on. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10_000, 20_000];

/** The one line of a tus failure: the server's problem+json detail when there is one. */
function uploadError(err: Error): Error {
  const res = (err as tus.DetailedError).originalResponse;
  if (res) {
    try {
      const p = JSON.parse(res.getBody()) as { detail?: string; code?: string };
      if (p.detail) return new ApiError(res.getStatus(), p.code ?? "HOLDOUT_ERR_UNKNOWN", p.detail);
    } catch {
      // not a problem document
    }
    return new ApiError(res.getStatus(), "HTTP_ERROR", res.getBody().trim().slice(0, 200));
  }
  return new Error(`upload failed: ${err.message.split("\n")[0]}`, { cause: err });
}

/**
 * Sends `source` over tus. A pipe can be resumed only within the last unacknowledged chunk (kept in
 * memory: `chunkBytes`); a file resumes from wherever the server stopped.
 */
export function sendResumable(
  remote: Remote,
  source: UploadSource,
  metadata: Record<string, string>,
  chunkBytes: number,
  progress: ProgressBar,
): Promise<{ id: string; state: string }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    // tus-js-client takes Node streams (its types name only browser inputs).
    const file: ConstructorParameters<typeof tus.Upload>[0] = source.stream as never;
    const upload = new tus.Upload(file, {
      endpoint: endpoint(remote, "/api/v1/uploads"),
      headers: authHeaders(remote),
      metadata: { ...metadata, kind: source.kind },
      ...(source.size !== null ? { uploadSize: source.size } : { uploadLengthDeferred: true }),
      chunkSize: source.seekable ? 256 * 1024 ** 2 : chunkBytes,
      // Pipes go through our bounded window (files keep tus's own reader, which can seek).
      fileReader: {
        openFile: (input: unknown, chunkSize: number) =>
          source.seekable
            ? tus.defaultOptions.fileReader.openFile(input, chunkSize)
            : // Its size is null (a pipe), which tus handles for streams though its types say number.
              Promise.resolve(new PipeSource(source.stream) as unknown as tus.FileSource),
      },
      retryDelays: RETRY_DELAYS,
      onProgress: (bytes) => {
        sent = bytes;
        progress.update(bytes, source.size);
      },
      onSuccess: ({ lastResponse }) => {
        progress.done(sent, source.size);
        const id = lastResponse.getHeader("Holdout-Submission-Id");
        if (!id) return reject(new Error("the server finished the upload but named no submission"));
        resolve({ id, state: lastResponse.getHeader("Holdout-Submission-State") ?? "received" });
      },
      onError: (err) => {
        progress.interrupt();
        reject(uploadError(err));
      },
    });
    // A producer that fails (docker cannot save the image) abandons the upload on the server too,
    // which gives the quota slot back.
    source.finished.catch((err: unknown) => {
      progress.interrupt();
      // Best effort: if the DELETE does not get through, the server's sweeper frees the slot later.
      void upload.abort(true).catch(() => {});
      reject(err instanceof Error ? err : new Error(String(err)));
    });
    upload.start();
  });
}

export function submitCommand(): Command {
  return new Command("submit")
    .description(
      "upload a model (a Docker image, a saved tarball, or a code bundle) and optionally wait for its scores",
    )
    .option("--server <url>", "the Holdout server (default: $HOLDOUT_SERVER)")
    .option("--token <token>", "your team's API token (default: $HOLDOUT_TOKEN)")
    .option("--competition <slug>", COMPETITION_OPTION_HELP)
    .option(
      "--image <name>",
      "a local Docker image: only the layers the server does not hold for your team are sent, gzipped",
    )
    .option("--no-layers", "with --image: send the whole `docker save` archive (no layer reuse)")
    .option("--tarball <file>", "a `docker save` tarball on disk (resumes from any offset)")
    .option("--bundle <dir>", "a directory of code, packed as tar.gz and run with --command")
    .option(
      "--command <cmd>",
      "for --bundle: the command to run (e.g. `python3 src/predict.py {input} {output}`)",
    )
    .requiredOption("--model <name>", "the model's name, as the leaderboard shows it")
    .option("--description <text>", "a description of the model")
    .option("--link <url>", "a link to a paper or code")
    .option("--ensemble", "the model is an ensemble")
    .option("--wait", "follow the submission until it is final and print its scores (exit 1 if it failed)")
    .option(
      "--chunk-mib <n>",
      "chunk size for piped uploads, kept in memory to resume after a broken connection",
      "32",
    )
    .action(async (opts: SubmitOptions) => {
      const remote = remoteFrom(opts, process.env, true);
      const chosen = [opts.image, opts.tarball, opts.bundle].filter((v) => v !== undefined);
      if (chosen.length !== 1)
        throw new UsageError("give exactly one of --image NAME, --tarball FILE, --bundle DIR");
      if (opts.command !== undefined && opts.bundle === undefined) {
        throw new UsageError("--command applies to --bundle only; an image runs its own entrypoint");
      }
      const chunkMib = Number(opts.chunkMib);
      if (!Number.isInteger(chunkMib) || chunkMib < 1 || chunkMib > 1024) {
        throw new UsageError("--chunk-mib must be a whole number of MiB from 1 to 1024");
      }

      // Refusals are cheaper before a byte is sent (a refusal mid-body closes the connection).
      const quota = await getJson<QuotaView>(remote, "/api/v1/quota");
      if (quota.remaining <= 0) {
        const when = quota.totalExhausted
          ? `your team has used all ${quota.total} submissions of this competition`
          : `your team has used its ${quota.perDay} submissions of the last 24 hours; the next slot opens at ${quota.nextSlotAt ?? "soon"}`;
        throw new ApiError(429, "HOLDOUT_ERR_QUOTA_EXCEEDED", when);
      }

      const accepted =
        opts.image !== undefined && opts.layers
          ? await sendImageLayers(remote, opts.image, opts)
          : await sendWhole(remote, opts, chunkMib);
      console.log(`submission ${accepted.id}: ${accepted.state}`);
      console.log(`its page: ${pageUrl(remote, `/submissions/${accepted.id}`)}`);
      console.log(quotaLine(await getJson<QuotaView>(remote, "/api/v1/quota")));
      if (!opts.wait) {
        console.log(`follow it: holdout status ${accepted.id}`);
        return;
      }
      const final = await followSubmission(remote, accepted.id, {
        print: (l) => console.log(printable(l)),
      });
      process.exitCode = report(final);
    });
}

/** --image: a layered upload; prints what travelled. */
async function sendImageLayers(remote: Remote, image: string, opts: SubmitOptions) {
  console.error(`sending ${image} to ${remote.server}: only the layers it does not hold`);
  const outcome = await sendLayered(
    remote,
    image,
    {
      model: opts.model,
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.link ? { link: opts.link } : {}),
      ...(opts.ensemble ? { ensemble: true } : {}),
    },
    (line) => console.error(line),
  );
  console.error(
    `sent ${formatBytes(outcome.sentBytes)} (${outcome.sentBytes} bytes): ${outcome.layersSent} of ${outcome.layersTotal} layers, the config and the manifest`,
  );
  return outcome;
}

/** --tarball, --bundle, --image --no-layers: the whole file over tus. */
async function sendWhole(remote: Remote, opts: SubmitOptions, chunkMib: number) {
  const source = opts.image
    ? dockerSave(opts.image)
    : opts.tarball
      ? await tarballFile(opts.tarball)
      : await bundleDir(opts.bundle!);
  const metadata: Record<string, string> = { model: opts.model };
  if (opts.description) metadata.description = opts.description;
  if (opts.link) metadata.link = opts.link;
  if (opts.ensemble) metadata.ensemble = "true";
  if (opts.command) metadata.command = opts.command;

  console.error(
    `sending ${source.describe} to ${remote.server}${source.size !== null ? ` (${formatBytes(source.size)})` : ""}`,
  );
  const progress = new ProgressBar(process.stderr);
  return sendResumable(remote, source, metadata, chunkMib * 1024 ** 2, progress);
}

/** What the team may still submit, after this one. */
export function quotaLine(q: QuotaView): string {
  const counts = `${q.usedInWindow} of ${q.perDay} in the last 24 hours, ${q.usedTotal} of ${q.total} in all`;
  if (q.remaining > 0)
    return `quota: ${q.remaining} more submission${q.remaining === 1 ? "" : "s"} now (${counts})`;
  if (q.totalExhausted) return `quota: none left in this competition (${counts})`;
  return `quota: none left until ${q.nextSlotAt ?? "a slot frees"} (${counts})`;
}

/** Prints a final submission's outcome; returns the exit code (0 scored, 1 otherwise). */
export function report(
  s: SubmissionDetail,
  print: (line: string) => void = (l) => console.log(printable(l)),
): number {
  if (s.state === "scored") {
    print("");
    // Ladder: scored, but nothing released (not significantly better than the team's best).
    if (s.ladder && !s.ladder.improved) {
      print(s.ladder.note);
      return 0;
    }
    print(scoresTable(s));
    return 0;
  }
  if (s.state === "failed" && s.failure) {
    print("");
    print(
      `failed (${s.failure.category}${s.failedPhase ? `, ${s.failedPhase} run` : ""}): ${s.failure.message}`,
    );
    print(`what to do: ${failureAdvice(s.id, s.failure.category, s.failedPhase)}`);
    if (s.refunded) print("this submission is not charged to your team's quota");
    return 1;
  }
  print(`submission ${s.id} is ${s.state}`);
  return s.state === "cancelled" ? 1 : 0;
}
