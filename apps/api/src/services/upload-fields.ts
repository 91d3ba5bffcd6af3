import type { MultipartValue } from "@fastify/multipart";
import { z } from "zod";
import { Errors, type FieldProblem } from "../errors.ts";
import { textRule } from "./text.ts";

// A submission's fields (model, description, link, ensemble, command), as a multipart form or a tus
// Upload-Metadata header sends them: one schema, one set of messages naming the field.

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off", ""];

export const SubmissionFieldsSchema = z.object({
  // Shown text: the text rules (services/text.ts) look at the value as sent, before trimming.
  model: z
    .string({ error: "is required: the model's name as the leaderboard will show it" })
    .superRefine(textRule())
    .trim()
    .min(1, { error: "must not be empty" })
    .max(100, { error: "must be at most 100 characters" }),
  description: z
    .string()
    .superRefine(textRule(true))
    .trim()
    .max(2000, { error: "must be at most 2000 characters" })
    .optional(),
  /** For code bundles: the command the run side starts in the bundle's directory. */
  command: z
    .string()
    .superRefine(textRule())
    .trim()
    .min(1, { error: "must not be empty" })
    .max(1000, { error: "must be at most 1000 characters" })
    .optional(),
  link: z
    .string()
    .superRefine(textRule())
    .trim()
    .max(500, { error: "must be at most 500 characters" })
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/i.test(v), { error: "must be an http(s) URL" })
    .optional(),
  ensemble: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => TRUE_WORDS.includes(v) || FALSE_WORDS.includes(v), {
      error: "must be true or false",
    })
    .transform((v) => TRUE_WORDS.includes(v))
    .optional(),
});
export type SubmissionFields = z.infer<typeof SubmissionFieldsSchema>;

export const FIELDS_FIRST = " (the fields must come before the file: -F model=... before -F image=@...)";
const KNOWN_FIELDS = new Set(["model", "description", "link", "ensemble", "command"]);

export function readField(part: MultipartValue, raw: Record<string, string>, afterFile: boolean) {
  if (part.fieldname === "image" || part.fieldname === "bundle") {
    throw fieldError(
      part.fieldname,
      `must be a file, not text: with curl, put @ before the path (-F ${part.fieldname}=@model.tar)`,
    );
  }
  if (!KNOWN_FIELDS.has(part.fieldname)) {
    throw fieldError(
      part.fieldname,
      "unknown field; expected model, description, link, ensemble, command, then the file image or bundle",
    );
  }
  if (afterFile) {
    throw fieldError(part.fieldname, "must be sent before the file field `image`");
  }
  if (part.fieldname in raw) throw fieldError(part.fieldname, "was sent more than once");
  if (part.valueTruncated) throw fieldError(part.fieldname, "is too long");
  raw[part.fieldname] = typeof part.value === "string" ? part.value : String(part.value);
}

/**
 * The submission's metadata, validated; every problem names its field. `hint` is added to each
 * problem (a file that came before every field: the fields were probably sent after it).
 */
export function validateFields(raw: Record<string, string>, hint = ""): SubmissionFields {
  const parsed = SubmissionFieldsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const errors: FieldProblem[] = parsed.error.issues.map((i) => ({
    field: i.path.join("."),
    message: `${i.message}${hint}`,
  }));
  const err = new Errors.InvalidField(errors.map((e) => `field \`${e.field}\` ${e.message}`).join("; "));
  throw Object.assign(err, { errors });
}

export function fieldError(field: string, message: string) {
  return Object.assign(new Errors.InvalidField(`field \`${field}\` ${message}`), {
    errors: [{ field, message }],
  });
}

export const commandOnImage = () =>
  fieldError("command", "applies to code bundles only; an image runs its own entrypoint");
