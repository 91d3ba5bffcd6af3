import { Type, type Static } from "typebox";

// A team's notifications (docs/participant-guide.md, "Notifications"): its webhooks, their
// delivery log, and its e-mail choice. A webhook's secret appears once, in the answer that creates it.

const Iso = Type.String({ description: "ISO 8601 time" });

export const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  createdAt: Iso,
});
export type Webhook = Static<typeof WebhookSchema>;

export const WebhookCreatedSchema = Type.Object({
  webhook: WebhookSchema,
  secret: Type.String({
    description:
      "Signs every delivery (Holdout-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of `<t>.<raw body>`>). Shown only here: store it now.",
  }),
});

export const WebhookListSchema = Type.Object({ webhooks: Type.Array(WebhookSchema) });

export const WebhookAttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  at: Iso,
  statusCode: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's answer, if any" }),
  error: Type.Union([Type.String(), Type.Null()], {
    description: "Why there was no answer, or it was refused",
  }),
});

export const WebhookDeliverySchema = Type.Object({
  id: Type.String(),
  submissionId: Type.String(),
  state: Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed")]),
  createdAt: Iso,
  attempts: Type.Array(WebhookAttemptSchema),
});
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;

export const WebhookDeliveryListSchema = Type.Object({ deliveries: Type.Array(WebhookDeliverySchema) });

export const NotificationSettingsSchema = Type.Object({
  emailOnEnd: Type.Boolean({
    description:
      "E-mail the team's contact address when one of its submissions ends (scored, failed, cancelled)",
  }),
});
export type NotificationSettings = Static<typeof NotificationSettingsSchema>;
