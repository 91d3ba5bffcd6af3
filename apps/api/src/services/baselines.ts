import type { FastifyBaseLogger } from "fastify";
import {
  BaselineNameTakenError,
  ensureBaselineTeam,
  findBaselineTeam,
  listBaselineTeams,
  recordAudit,
  type AuditActor,
  type BaselineTeam,
  type Db,
} from "@holdout/db";
import { Errors } from "../errors.ts";
import { UUID } from "../schemas/common.ts";
import type { Intake } from "./intake.ts";
import { displayText } from "./text.ts";
import type { ReceivedUpload, UploadTarget } from "./upload-store.ts";

// Baselines (docs/architecture.md, "Baselines"): entries an organizer submits under a baseline's
// name, e.g. the official board's "Stanford Baseline". Shared by the admin API
// (routes/admin-baselines.ts) and the organizer pages (web/baseline-pages.ts). A baseline's upload
// takes the one intake path (services/intake.ts) a team's does, so it is checked, run, scored and
// ranked alike; only its slot is free (packages/db reserveQuotaSlot) and its tie mark absent.

export interface BaselineServiceDeps {
  db: Db;
  competitionId: string;
  intake: Pick<Intake, "reserve" | "complete" | "target">;
}

/** The JSON of a baseline, as the API answers and the CLI prints it. */
export function baselineView(t: BaselineTeam & { submissions?: number }) {
  return {
    id: t.id,
    name: t.name,
    institution: t.institution,
    createdAt: t.createdAt.toISOString(),
    ...(t.submissions !== undefined ? { submissions: t.submissions } : {}),
  };
}

/** A text field's length limit, as the API's schema has it (the page's form skips the schema). */
function within(field: string, text: string, max: number): string {
  if (text.length <= max) return text;
  throw Object.assign(new Errors.InvalidField(`field \`${field}\` must be at most ${max} characters`), {
    errors: [{ field, message: `must be at most ${max} characters` }],
  });
}

export type BaselineService = ReturnType<typeof createBaselineService>;

export function createBaselineService({ db, competitionId, intake }: BaselineServiceDeps) {
  return {
    /**
     * The baseline of that name, created if new (`created`); an institution given replaces its own.
     * The name follows a team name's rules (it is shown as one); a participating team's name is a 409.
     */
    async ensure(by: AuditActor, input: { name: string; institution?: string | undefined }) {
      const name = within("name", displayText("name", input.name), 100);
      const institution =
        input.institution === undefined
          ? undefined
          : within("institution", displayText("institution", input.institution, true), 200) || null;
      try {
        return await ensureBaselineTeam(db, by, {
          name,
          ...(institution !== undefined ? { institution } : {}),
        });
      } catch (err) {
        if (err instanceof BaselineNameTakenError) throw new Errors.TeamNameTaken(err.message);
        throw err;
      }
    },

    list() {
      return listBaselineTeams(db, competitionId);
    },

    /** One of this competition's baselines, or 404. */
    async find(id: string): Promise<BaselineTeam> {
      const team = UUID.test(id) ? await findBaselineTeam(db, competitionId, id) : null;
      if (!team) throw new Errors.NotFound(`no baseline ${id}`);
      return team;
    },

    /**
     * Submits an entry for the baseline `teamId` through the intake: a slot (never refused for lack of
     * quota), the file as `receive` stores it (a multipart body), the submission recorded and queued.
     * Audited once queued.
     */
    async submit(
      by: AuditActor,
      teamId: string,
      log: FastifyBaseLogger,
      receive: (target: UploadTarget) => Promise<ReceivedUpload>,
    ): Promise<{ id: string; state: "queued" }> {
      const team = await this.find(teamId);
      const slot = await intake.reserve(team.id);
      const state = await intake.complete(slot, log, () => receive(intake.target(slot.id)));
      await recordAudit(db, by, {
        action: "baseline.submit",
        targetType: "submission",
        targetId: slot.id,
        detail: team.name,
      });
      return { id: slot.id, state };
    },
  };
}
