import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import {
  NotificationSettingsSchema,
  ProblemSchema,
  WebhookCreatedSchema,
  WebhookDeliveryListSchema,
  WebhookListSchema,
} from "@holdout/contracts/http";
import { WEBHOOK_URL_MAX_LENGTH } from "@holdout/contracts";
import { Errors } from "../errors.ts";
import { currentPrincipal } from "../plugins/auth.ts";
import { IdParamsSchema } from "../schemas/common.ts";
import type { NotificationService } from "../services/notifications.ts";

/** A team's notifications: its webhooks and their deliveries, and its e-mail choice (team credentials only). */
const notificationRoutes: FastifyPluginCallbackTypebox<{ notifications: NotificationService }> = (
  app,
  { notifications },
  done,
) => {
  function teamId(request: FastifyRequest): string {
    const p = currentPrincipal(request);
    if (p.role !== "team")
      throw new Errors.Forbidden("webhooks and e-mail choices belong to a team: use a team's token");
    return p.team.id;
  }
  const TEAM = { onRequest: app.requireAuth } as const;

  app.get(
    "/team/webhooks",
    {
      ...TEAM,
      schema: {
        summary: "Your team's webhooks (never their secrets)",
        response: { 200: WebhookListSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => ({ webhooks: await notifications.list(teamId(request)) }),
  );

  app.post(
    "/team/webhooks",
    {
      ...TEAM,
      schema: {
        summary: "Register a webhook, called when one of your submissions ends",
        description:
          "The answer holds the signing secret, shown only this once. The URL must be http(s) and reach a public address: loopback, private, link-local and reserved addresses are refused (HOLDOUT_ERR_WEBHOOK_REFUSED).",
        body: Type.Object(
          { url: Type.String({ minLength: 1, maxLength: WEBHOOK_URL_MAX_LENGTH }) },
          { additionalProperties: false },
        ),
        response: { 201: WebhookCreatedSchema, "4xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      const created = await notifications.register(teamId(request), request.body.url);
      return reply.status(201).header("cache-control", "no-store").send(created);
    },
  );

  app.delete(
    "/team/webhooks/:id",
    {
      ...TEAM,
      schema: {
        summary: "Remove one of your team's webhooks, with its delivery log",
        params: IdParamsSchema,
        response: { 204: Type.Null(), "4xx": ProblemSchema },
      },
    },
    async (request, reply) => {
      await notifications.remove(teamId(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    "/team/webhooks/:id/deliveries",
    {
      ...TEAM,
      schema: {
        summary: "A webhook's deliveries, newest first (the last 50), each with its attempts",
        params: IdParamsSchema,
        response: { 200: WebhookDeliveryListSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => ({ deliveries: await notifications.deliveries(teamId(request), request.params.id) }),
  );

  app.get(
    "/team/notifications",
    {
      ...TEAM,
      schema: {
        summary: "Your team's e-mail choice",
        response: { 200: NotificationSettingsSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => notifications.settings(teamId(request)),
  );

  app.put(
    "/team/notifications",
    {
      ...TEAM,
      schema: {
        summary: "E-mail your team's address when a submission ends, or stop",
        body: Type.Object({ emailOnEnd: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: NotificationSettingsSchema, "4xx": ProblemSchema },
      },
    },
    async (request) => notifications.setEmail(teamId(request), request.body.emailOnEnd),
  );
  done();
};

export default notificationRoutes;
