import type { Readable } from "node:stream";
import type { FastifyBaseLogger } from "fastify";
import { claimHeldLayers, quotaStatus, type Db } from "@holdout/db";
import type { LayeredSubmission } from "@holdout/contracts/http";
import type { Intake } from "./intake.ts";
import { assembleImage, layeredImageOf } from "./layered-image.ts";
import { receiveLayer, type LayerStoreLimits, type ReceivedLayer } from "./layer-store.ts";
import { quotaError } from "./quota.ts";
import { refuseIfClosed } from "./release.ts";
import { ingestStoredFile } from "./upload-store.ts";
import { validateFields } from "./upload-fields.ts";

// Layered uploads (docs/architecture.md, "Layered uploads"): a team asks which of its image's layers
// the server holds for it, sends the others one by one, then submits the config and the list of
// layers. The server rebuilds the archive and hands it to the one intake (services/intake.ts) as a
// finished upload: the same checks, the same quota slot, the same worker ingest as a full upload.

export interface LayeredIntakeOptions {
  db: Db;
  dataDir: string;
  competitionId: string;
  intake: Intake;
  /** The size limit of submissions: the rebuilt archive's too. */
  maxUploadBytes: number;
  limits: LayerStoreLimits;
}

export type LayeredIntake = ReturnType<typeof createLayeredIntake>;

export function createLayeredIntake(opts: LayeredIntakeOptions) {
  const { db, dataDir, intake } = opts;
  return {
    /** Which of `digests` the team holds; only ever its own layers (no other team's is named). */
    async held(teamId: string, digests: string[]): Promise<string[]> {
      const held = new Set((await claimHeldLayers(db, teamId, digests)).map((l) => l.digest));
      return digests.filter((d) => held.has(d));
    },

    /**
     * Receives one layer, while the team could submit: the competition open and a quota slot free
     * (layers are sent for a submission, so a team without one has no use for the store).
     */
    async putLayer(teamId: string, digest: string, body: Readable): Promise<ReceivedLayer> {
      await refuseIfClosed(db, opts.competitionId);
      const quota = await quotaStatus(db, teamId);
      if (quota.remaining <= 0) throw quotaError(quota);
      return receiveLayer(db, dataDir, teamId, digest, body, opts.limits);
    },

    /** A layered submission: a quota slot, the archive rebuilt, then the intake's usual steps. */
    async submit(teamId: string, body: LayeredSubmission, log: FastifyBaseLogger) {
      const raw: Record<string, string> = { model: body.model };
      if (body.description !== undefined) raw.description = body.description;
      if (body.link !== undefined) raw.link = body.link;
      if (body.ensemble !== undefined) raw.ensemble = String(body.ensemble);
      const fields = validateFields(raw);
      const image = layeredImageOf(body);
      const slot = await intake.reserve(teamId);
      const state = await intake.complete(slot, log, async () => {
        const file = await assembleImage(db, dataDir, teamId, slot.id, image, opts.maxUploadBytes);
        return ingestStoredFile(file, "image", fields, intake.target(slot.id));
      });
      return { id: slot.id, state };
    },
  };
}
