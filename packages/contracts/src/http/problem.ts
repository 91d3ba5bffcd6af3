import { Type, type Static } from "typebox";

/** Every refusal and error of the API: RFC 9457 problem+json, with a stable `code` (problems.ts lists them). */
export const ProblemSchema = Type.Object({
  type: Type.String({ description: "where the code is explained: its entry on /docs" }),
  title: Type.String({ description: "the status's reason phrase" }),
  status: Type.Integer(),
  detail: Type.String({ description: "what is wrong here, in words" }),
  code: Type.String({ description: "stable `HOLDOUT_ERR_*` code, listed on /docs" }),
  instance: Type.Optional(
    Type.String({ description: "the request's path; absent only when the request was not readable HTTP" }),
  ),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  /** When a refused request may succeed (quota and rate limits); also sent as Retry-After. */
  retryAt: Type.Optional(Type.String()),
});
export type Problem = Static<typeof ProblemSchema>;
