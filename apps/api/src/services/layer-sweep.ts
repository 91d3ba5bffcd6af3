import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { forgetLayers, layersUnusedSince, recordedLayers, type Db } from "@holdout/db";
import { UUID } from "../schemas/common.ts";
import { layerFile, layersDirOf, PARTIAL_PREFIX } from "./layer-store.ts";
import { namesIn } from "./files.ts";
import { EveryStep, startPeriodic, type PeriodicLog } from "./periodic.ts";

// The layer store's garbage collection, run with the abandoned uploads' sweep: layers unused for the
// retention period go (record first, then file: a layer answered as held always has its file, but
// for the moment of its removal), and so do files no record names (a team deleted, a crash between
// the file's placement and its record) and partial files no upload has written to for an hour.

/** A partial layer file untouched this long belongs to an upload that died. */
export const STALE_PARTIAL_MS = 3600_000;
/** A layer file without a record is left this long: its upload may be about to record it. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

const HEX = /^[0-9a-f]{64}$/;

export async function sweepLayerStore(db: Db, dataDir: string, retentionMs: number, now = new Date()) {
  let expired = 0;
  let orphans = 0;
  const steps = new EveryStep();

  const before = new Date(now.getTime() - retentionMs);
  const byTeam = new Map<string, string[]>();
  for (const { teamId, digest } of await layersUnusedSince(db, before)) {
    byTeam.set(teamId, [...(byTeam.get(teamId) ?? []), digest]);
  }
  for (const [teamId, digests] of byTeam) {
    await steps.attempt(async () => {
      for (const gone of await forgetLayers(db, teamId, digests, before)) {
        await rm(layerFile(dataDir, teamId, gone), { force: true });
        expired++;
      }
    });
  }

  const root = layersDirOf(dataDir);
  const teams = await namesIn(root);
  for (const teamId of teams.filter((t) => UUID.test(t))) {
    await steps.attempt(async () => {
      const dir = path.join(root, teamId);
      // An emptied directory stays: an upload may be about to write into it.
      const names = await readdir(dir);
      const ages = new Map<string, number>();
      for (const name of names) {
        const info = await stat(path.join(dir, name)).catch(() => null);
        if (info) ages.set(name, now.getTime() - info.mtimeMs);
      }
      const layers = names.filter((n) => HEX.test(n));
      const recorded = await recordedLayers(
        db,
        teamId,
        layers.map((n) => `sha256:${n}`),
      );
      for (const name of names) {
        const age = ages.get(name) ?? 0;
        const stale = name.startsWith(PARTIAL_PREFIX)
          ? age > STALE_PARTIAL_MS
          : HEX.test(name) && !recorded.has(`sha256:${name}`) && age > ORPHAN_GRACE_MS;
        if (!stale) continue;
        await rm(path.join(dir, name), { force: true });
        orphans++;
      }
    });
  }
  steps.finish("the layer store's sweep");
  return { expired, orphans };
}

/** Runs the layer store's sweep now and every `intervalMs`; the returned function stops it. */
export function startLayerSweeper(
  db: Db,
  dataDir: string,
  retentionMs: number,
  intervalMs: number,
  log: PeriodicLog,
) {
  return startPeriodic(() => sweepLayerStore(db, dataDir, retentionMs), intervalMs, log, {
    done: (swept) => (swept.expired + swept.orphans > 0 ? "layer store swept" : null),
    failed: "sweeping the layer store failed",
  });
}
