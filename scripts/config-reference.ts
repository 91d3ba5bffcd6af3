/**
 * Writes docs/configuration.md from the apps' zod config schemas, so the reference cannot drift from
 * what the processes accept: types, defaults and required-ness come from the schemas themselves
 * (as JSON Schema), descriptions from the comments above each field in the schema's source file.
 *   npm run docs:config            regenerate the file
 *   npm run docs:config -- --check exit 1 if the committed file is stale (CI's unit test does this too)
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import prettier from "prettier";
import ts from "typescript";
import { z } from "zod";
import { ApiConfigSchema } from "../apps/api/src/config.ts";
import { WorkerConfigSchema } from "../apps/worker/src/config.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REFERENCE_FILE = path.join(ROOT, "docs", "configuration.md");

interface Section {
  title: string;
  source: string;
  schema: z.ZodType;
  intro: string;
}

const SECTIONS: Section[] = [
  {
    title: "API (`npm run api`, the `api` Compose service)",
    source: "apps/api/src/config.ts",
    schema: ApiConfigSchema,
    intro: "The HTTP API: uploads, the leaderboard, accounts, the organizer's endpoints.",
  },
  {
    title: "Worker (`npm run worker`, the `worker` Compose service)",
    source: "apps/worker/src/config.ts",
    schema: WorkerConfigSchema,
    intro:
      "An evaluation worker: loads images, runs models in the sandbox, scores them. Run as many as you like, on as many hosts, against the same PostgreSQL and Redis.",
  },
];

// For fields whose source has no comment: what an operator needs to know.
const FALLBACK: Record<string, string> = {
  DATABASE_URL: "PostgreSQL URL, e.g. `postgresql://holdout:secret@db:5432/holdout`.",
  REDIS_URL: "Redis URL (BullMQ queues, rate limits), e.g. `redis://redis:6379`.",
  PORT: "TCP port the API listens on.",
  HOST: "Address the API listens on (`0.0.0.0` in a container).",
  HOLDOUT_DATA_DIR: "Where uploads are stored; shared by the API and the workers of a host.",
  HOLDOUT_TESTSET_DIR:
    "The hidden test set (contract-1 layout); its `private/` part is read by the worker only.",
  HOLDOUT_COMPETITION: "The competition's slug (created at start if missing).",
  HOLDOUT_COMPETITION_NAME: "The competition's display name.",
  HOLDOUT_QUEUE_PREFIX: "BullMQ key prefix in Redis: API and workers of one deployment must agree.",
  HOLDOUT_WORKER_NAME: "This worker's name in heartbeats, events and container labels.",
  HOLDOUT_WORKER_CONCURRENCY: "Evaluations this worker process runs at once.",
  HOLDOUT_SMOKE_STUDIES: "Studies of the development set in a smoke run.",
  HOLDOUT_HEARTBEAT_SECONDS: "How often a worker records that it is alive and what it runs.",
  HOLDOUT_RECONCILE_INTERVAL_SECONDS: "How often the reconciler looks for stuck or orphaned submissions.",
  HOLDOUT_BOOTSTRAP_REPLICATES: "Bootstrap replicates for the confidence intervals of the AUCs.",
  HOLDOUT_BOOTSTRAP_SEED: "Seed of the bootstrap, so intervals are reproducible.",
  DOCKER_SOCKET: "The Docker engine's socket.",
  HOLDOUT_MAX_BUNDLE_FILES: "Most entries (files and directories) a code bundle may hold.",
  HOLDOUT_RATE_LIMIT_PER_IP: "Requests per window from one client address.",
  HOLDOUT_RATE_LIMIT_PER_TOKEN: "Requests per window with one API token or session.",
  HOLDOUT_RATE_LIMIT_AUTH_PER_IP: "Sign-in and registration attempts per window from one client address.",
  HOLDOUT_RUN_TIMEOUT_SECONDS: "Wall-clock limit of a model's hidden run.",
  HOLDOUT_RUN_MEMORY_MB: "Memory limit of a run (no swap).",
  HOLDOUT_RUN_CPUS: "CPUs a run may use.",
  HOLDOUT_RUN_PIDS: "Process and thread limit of a run.",
  HOLDOUT_RUN_OUTPUT_MB: "Size limit of `/out` (the predictions).",
  HOLDOUT_RUN_TMP_MB: "Size of the run's `/tmp` (tmpfs, counted against its memory).",
  HOLDOUT_RUN_OPEN_FILES: "Open-file limit (ulimit nofile) of a run.",
  HOLDOUT_RUN_LOG_KB: "How much of a run's log is kept (head and tail).",
  HOLDOUT_RUN_GPUS:
    "GPUs granted to each run as an engine device request: `none`, `all`, or ids such as `0,1`.",
  HOLDOUT_IMAGE_MAX_MB: "Largest image tarball the worker loads.",
  HOLDOUT_IMAGE_MAX_UNPACKED_MB:
    "Largest image tarball once gunzipped, and largest total of its layers once decompressed (each gzip layer is decompressed and counted as it streams).",
  HOLDOUT_IMAGE_MAX_LAYERS: "Most layers an image may have.",
  HOLDOUT_IMAGE_MAX_CONFIG_KB: "Largest image config (the JSON the manifest names) accepted.",
  HOLDOUT_IMAGE_MAX_RATIO:
    "Largest decompression ratio accepted, for the tarball and for each gzip layer (a bomb guard).",
  HOLDOUT_HIDDEN_LOG_TAIL_KB: "With the `tail` policy: how much of the hidden run's log the team may read.",
  LOG_LEVEL: "Log verbosity (JSON lines on stdout).",
};

/** The comment above each `NAME:` field of the schema's object literal, by field name. */
function fieldComments(file: string): Map<string, string> {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out = new Map<string, string>();
  const visit = (node: ts.Node) => {
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      /^[A-Z][A-Z0-9_]*$/.test(node.name.text)
    ) {
      const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
      const comment = ranges
        .map((r) => text.slice(r.pos, r.end))
        .map((c) =>
          c
            .replace(/^\/\*\*?|\*\/$/g, "")
            .split("\n")
            .map((line) => line.replace(/^\s*(\*|\/\/)\s?/, "").trim())
            .join(" ")
            .trim(),
        )
        .join(" ")
        .trim();
      if (comment) out.set(node.name.text, comment);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

interface JsonField {
  type?: string;
  enum?: unknown[];
  default?: string | number | boolean;
  pattern?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
}

/** Machine-dependent defaults (host name, pid, temp dir) in a form that is the same everywhere. */
function portable(value: string): string {
  return value.replace(`${os.hostname()}:${process.pid}`, "<hostname>:<pid>").replace(os.tmpdir(), "$TMPDIR");
}

function describeType(f: JsonField): string {
  if (f.enum) return f.enum.map((v) => `\`${String(v)}\``).join(", ");
  const parts: string[] = [];
  if (f.type === "integer") parts.push("integer");
  else if (f.type === "number") parts.push("number");
  else parts.push("string");
  const max = f.maximum !== undefined && f.maximum < Number.MAX_SAFE_INTEGER ? f.maximum : undefined;
  if (f.minimum !== undefined && max !== undefined) parts.push(`${f.minimum} to ${max}`);
  else if (f.minimum !== undefined) parts.push(`≥ ${f.minimum}`);
  else if (max !== undefined) parts.push(`≤ ${max}`);
  if (f.exclusiveMinimum !== undefined) parts.push(`> ${f.exclusiveMinimum}`);
  if (f.pattern) parts.push(`matching \`${f.pattern}\``);
  return parts.join(" ");
}

/** `8589934592` is easier to check as 8 GiB. */
function bytesHint(name: string, value: string | number | boolean): string {
  if (!name.endsWith("_BYTES") || typeof value !== "number") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = value;
  let i = 0;
  while (v >= 1024 && v % 1024 === 0 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i > 0 ? ` (${v} ${units[i]})` : "";
}

function escapeCell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function renderSection(section: Section): string {
  const json = z.toJSONSchema(section.schema, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, JsonField>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  const comments = fieldComments(section.source);
  const rows = Object.entries(json.properties).map(([name, f]) => {
    const def =
      f.default !== undefined
        ? `\`${portable(String(f.default))}\`${bytesHint(name, f.default)}`
        : required.has(name)
          ? "**required**"
          : "unset";
    const text = comments.get(name) ?? FALLBACK[name] ?? "";
    return `| \`${name}\` | ${escapeCell(describeType(f))} | ${escapeCell(def)} | ${escapeCell(text)} |`;
  });
  return [
    `## ${section.title}`,
    "",
    section.intro,
    `Schema: \`${section.source}\`.`,
    "",
    "| Variable | Accepts | Default | Meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

export async function renderConfigReference(): Promise<string> {
  const md = [
    "# Configuration reference",
    "",
    "<!-- Generated by `npm run docs:config` (scripts/config-reference.ts) from the zod schemas; do not edit. -->",
    "",
    "Both processes are configured only by environment variables, read and checked once at start: every",
    "problem is reported at once, naming the variable, and the process exits with status 2. Cross-field",
    "rules apply too (for example `HOLDOUT_RUN_TMP_MB` must be below `HOLDOUT_RUN_MEMORY_MB`). With Docker",
    "Compose, put these in a file of `VAR=value` lines and name it in `.env` as `HOLDOUT_ENV_FILE`, in that",
    "order (see [the organizer guide](organizer-guide.md#limits)); unnamed, no file is needed.",
    "",
    ...SECTIONS.map(renderSection),
  ].join("\n");
  const options = (await prettier.resolveConfig(REFERENCE_FILE)) ?? {};
  return prettier.format(md, { ...options, parser: "markdown" });
}

async function main(): Promise<void> {
  const wanted = await renderConfigReference();
  if (process.argv.includes("--check")) {
    const have = readFileSync(REFERENCE_FILE, "utf8");
    if (have !== wanted) {
      console.error(`${path.relative(ROOT, REFERENCE_FILE)} is stale: run npm run docs:config`);
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(REFERENCE_FILE, wanted);
  console.log(`wrote ${path.relative(ROOT, REFERENCE_FILE)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
