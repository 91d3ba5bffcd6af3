import type { z } from "zod";

/** A form's field errors, by field name, as shown next to each field. */
export type FieldErrors = Record<string, string>;

export type FormResult<T> =
  { ok: true; value: T } | { ok: false; errors: FieldErrors; raw: Record<string, string> };

/** The first value of each field of an urlencoded body (a repeated field is not a list here). */
export function formFields(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof body !== "object" || body === null) return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const first: unknown = Array.isArray(v) ? v[0] : v;
    if (typeof first === "string") out[k] = first;
  }
  return out;
}

/** Validates a posted form; on failure, one message per field (the first problem found). */
export function parseForm<S extends z.ZodType>(schema: S, body: unknown): FormResult<z.infer<S>> {
  const raw = formFields(body);
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? "form");
    errors[field] ??= issue.message;
  }
  return { ok: false, errors, raw };
}
