import { Type, type Static } from "typebox";

/** An organizer's baseline entrant (organizers only: `/api/v1/admin/baselines`). */
export const BaselineSchema = Type.Object({
  id: Type.String({ description: "the baseline's id: its entries are uploaded under it" }),
  name: Type.String({ description: "shown as the team on the leaderboard, e.g. `Stanford Baseline`" }),
  institution: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  submissions: Type.Optional(Type.Integer({ description: "its entries, in any state" })),
});
export type BaselineView = Static<typeof BaselineSchema>;

export const BaselineListSchema = Type.Object({ baselines: Type.Array(BaselineSchema) });
export type BaselineList = Static<typeof BaselineListSchema>;

/** What creating (or naming again) a baseline takes. */
export const BaselineInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    institution: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
