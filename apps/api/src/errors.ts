import createError from "@fastify/error";

// The one catalogue of API errors. Codes are stable: clients and tests match on them.
export const Errors = {
  Unauthorized: createError("HOLDOUT_ERR_UNAUTHORIZED", "%s", 401),
  NotFound: createError("HOLDOUT_ERR_NOT_FOUND", "%s", 404),
  InvalidField: createError("HOLDOUT_ERR_INVALID_FIELD", "%s", 400),
  MissingFile: createError("HOLDOUT_ERR_MISSING_FILE", "%s", 400),
  WrongFileField: createError("HOLDOUT_ERR_WRONG_FILE_FIELD", "%s", 400),
  NotMultipart: createError("HOLDOUT_ERR_NOT_MULTIPART", "%s", 415),
  UploadTooLarge: createError("HOLDOUT_ERR_UPLOAD_TOO_LARGE", "%s", 413),
  UploadNotTar: createError("HOLDOUT_ERR_UPLOAD_NOT_TAR", "%s", 415),
  Unavailable: createError("HOLDOUT_ERR_UNAVAILABLE", "%s", 503),
} as const;

/** A field-level detail attached to a problem (RFC 9457 extension member `errors`). */
export interface FieldProblem {
  field: string;
  message: string;
}
