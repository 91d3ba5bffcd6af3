import { Type } from "typebox";

// The shapes of requests that many routes share. The responses' shapes are the clients' words too:
// they are declared once in @holdout/contracts/http.

export const IdParamsSchema = Type.Object({ id: Type.String({ maxLength: 100 }) });

/** Ids are UUIDs; anything else is answered 404 without a database round trip. */
export { UUID } from "@holdout/contracts";
