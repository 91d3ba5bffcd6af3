import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  AcceptedSchema,
  LayerDigest,
  LayeredSubmissionSchema,
  LayerQuerySchema,
  LayerReceivedSchema,
  LayersHeldSchema,
  ProblemSchema,
} from "@holdout/contracts/http";
import { currentTeam } from "../plugins/auth.ts";
import type { Intake } from "../services/intake.ts";
import type { LayeredIntake } from "../services/layered-intake.ts";
import { submissionUrl } from "../services/submission-view.ts";

export interface LayerRoutesOptions {
  intake: Intake;
  layered: LayeredIntake;
}

/** Layer bodies: a plain layer tar, or gzip of one (told by their first bytes, not by this type). */
const LAYER_TYPES = ["application/octet-stream", "application/gzip", "application/x-tar"];
/** A layered submission's JSON: the config is at most 4 MiB, base64 a third more. */
const SUBMISSION_BODY_LIMIT = 6 * 1024 ** 2 + 64 * 1024;

const layerRoutes: FastifyPluginCallbackTypebox<LayerRoutesOptions> = (app, opts, done) => {
  const { intake, layered } = opts;

  // The route reads the body itself, as it streams (never buffered): fastify parses nothing.
  app.addContentTypeParser(LAYER_TYPES, (_request, _payload, parsed) => parsed(null, undefined));

  app.post(
    "/layers/query",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Which of these layers your team's layer store holds (layered uploads)",
        description:
          "Digests are the SHA-256 of the uncompressed layer tars (the image config's `rootfs.diff_ids`). Only your team's own layers are ever answered: a layer another team sent is not held for you. Each layer answered as held counts as used now (the retention period starts again).",
        body: LayerQuerySchema,
        response: { 200: LayersHeldSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => {
      const team = currentTeam(request);
      return { held: await layered.held(team.id, request.body.digests) };
    },
  );

  app.put(
    "/layers/:digest",
    {
      onRequest: app.requireTeam,
      schema: {
        summary: "Send one layer of an image (layered uploads)",
        description:
          "The body is the layer tar, plain or gzip-compressed (`Content-Type: application/octet-stream` or `application/gzip`). The server computes the SHA-256 of the uncompressed bytes as they arrive; the layer is kept only if it is the digest in the path (else 400 `HOLDOUT_ERR_LAYER_DIGEST_MISMATCH`, nothing kept). Needs a free quota slot; charges none. Sending a layer the store holds again replaces it.",
        params: Type.Object({ digest: LayerDigest }),
        consumes: LAYER_TYPES,
        response: { 201: LayerReceivedSchema, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      intake.admit(request.principal);
      const received = await layered.putLayer(team.id, request.params.digest, request.raw);
      return reply.status(201).send(received);
    },
  );

  app.post(
    "/submissions/layered",
    {
      onRequest: app.requireTeam,
      bodyLimit: SUBMISSION_BODY_LIMIT,
      schema: {
        summary: "Submit an image from layers your team's layer store holds, and its config",
        description:
          "`config`: the image config's bytes, base64. `layers`: the digests of its layers, bottom first. Every layer must be held for your team (409 `HOLDOUT_ERR_LAYER_UNKNOWN` names those that are not; nothing is charged). The server rebuilds the `docker save` archive, which then goes the way of any uploaded image: the same checks, the same quota, the same worker ingest. 202 as `POST /submissions`.",
        body: LayeredSubmissionSchema,
        response: { 202: AcceptedSchema, "4xx": ProblemSchema, "5xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const team = currentTeam(request);
      intake.admit(request.principal);
      const { id, state } = await layered.submit(team.id, request.body, request.log);
      const statusUrl = submissionUrl(id, app.prefix);
      return reply.status(202).header("location", statusUrl).send({ id, state, statusUrl });
    },
  );

  done();
};

export default layerRoutes;
