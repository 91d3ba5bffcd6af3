import createError from "@fastify/error";

// The one catalogue of API errors. Codes are stable: clients and tests match on them.
export const Errors = {
  Unauthorized: createError("HOLDOUT_ERR_UNAUTHORIZED", "%s", 401),
  InvalidCredentials: createError("HOLDOUT_ERR_INVALID_CREDENTIALS", "%s", 401),
  Forbidden: createError("HOLDOUT_ERR_FORBIDDEN", "%s", 403),
  TeamNotApproved: createError("HOLDOUT_ERR_TEAM_NOT_APPROVED", "%s", 403),
  RegistrationClosed: createError("HOLDOUT_ERR_REGISTRATION_CLOSED", "%s", 403),
  TermsNotAccepted: createError("HOLDOUT_ERR_TERMS_NOT_ACCEPTED", "%s", 400),
  NotFound: createError("HOLDOUT_ERR_NOT_FOUND", "%s", 404),
  TeamNameTaken: createError("HOLDOUT_ERR_TEAM_NAME_TAKEN", "%s", 409),
  EmailTaken: createError("HOLDOUT_ERR_EMAIL_TAKEN", "%s", 409),
  TooManyTokens: createError("HOLDOUT_ERR_TOO_MANY_TOKENS", "%s", 409),
  TooManyWebhooks: createError("HOLDOUT_ERR_TOO_MANY_WEBHOOKS", "%s", 409),
  WebhookRefused: createError("HOLDOUT_ERR_WEBHOOK_REFUSED", "%s", 400),
  InvalidField: createError("HOLDOUT_ERR_INVALID_FIELD", "%s", 400),
  MissingFile: createError("HOLDOUT_ERR_MISSING_FILE", "%s", 400),
  WrongFileField: createError("HOLDOUT_ERR_WRONG_FILE_FIELD", "%s", 400),
  NotMultipart: createError("HOLDOUT_ERR_NOT_MULTIPART", "%s", 415),
  MalformedMultipart: createError("HOLDOUT_ERR_MALFORMED_MULTIPART", "%s", 400),
  UploadTooLarge: createError("HOLDOUT_ERR_UPLOAD_TOO_LARGE", "%s", 413),
  UploadNotTar: createError("HOLDOUT_ERR_UPLOAD_NOT_TAR", "%s", 415),
  UploadExpired: createError("HOLDOUT_ERR_UPLOAD_EXPIRED", "%s", 409),
  // Layered uploads: a layer whose bytes are not the digest named, a damaged one, one not held.
  LayerDigestMismatch: createError("HOLDOUT_ERR_LAYER_DIGEST_MISMATCH", "%s", 400),
  LayerInvalid: createError("HOLDOUT_ERR_LAYER_INVALID", "%s", 400),
  LayerUnknown: createError("HOLDOUT_ERR_LAYER_UNKNOWN", "%s", 409),
  // Resumable uploads (tus): a PATCH at the wrong offset, and any other protocol refusal.
  UploadOffsetMismatch: createError("HOLDOUT_ERR_UPLOAD_OFFSET_MISMATCH", "%s", 409),
  UploadProtocol: createError("HOLDOUT_ERR_UPLOAD_PROTOCOL", "%s", 400),
  TusVersion: createError("HOLDOUT_ERR_TUS_VERSION", "%s", 412),
  UnsupportedMediaType: createError("HOLDOUT_ERR_UNSUPPORTED_MEDIA_TYPE", "%s", 415),
  AlreadyFinal: createError("HOLDOUT_ERR_ALREADY_FINAL", "%s", 409),
  NotRescorable: createError("HOLDOUT_ERR_NOT_RESCORABLE", "%s", 409),
  CompetitionClosed: createError("HOLDOUT_ERR_COMPETITION_CLOSED", "%s", 409),
  NoOpenPhase: createError("HOLDOUT_ERR_NO_OPEN_PHASE", "%s", 409),
  AlreadyClosed: createError("HOLDOUT_ERR_ALREADY_CLOSED", "%s", 409),
  ConfirmationRequired: createError("HOLDOUT_ERR_CONFIRMATION_REQUIRED", "%s", 400),
  SettingLocked: createError("HOLDOUT_ERR_SETTING_LOCKED", "%s", 409),
  FinalSelection: createError("HOLDOUT_ERR_FINAL_SELECTION", "%s", 409),
  CurvesNotPublished: createError("HOLDOUT_ERR_CURVES_NOT_PUBLISHED", "%s", 403),
  BundleNotArchive: createError("HOLDOUT_ERR_BUNDLE_NOT_ARCHIVE", "%s", 415),
  BundleInvalid: createError("HOLDOUT_ERR_BUNDLE_INVALID", "%s", 400),
  BundleTooLarge: createError("HOLDOUT_ERR_BUNDLE_TOO_LARGE", "%s", 413),
  QuotaExceeded: createError("HOLDOUT_ERR_QUOTA_EXCEEDED", "%s", 429),
  QuotaExhausted: createError("HOLDOUT_ERR_QUOTA_EXHAUSTED", "%s", 429),
  RateLimited: createError("HOLDOUT_ERR_RATE_LIMITED", "%s", 429),
  TooManyStreams: createError("HOLDOUT_ERR_TOO_MANY_STREAMS", "%s", 429),
  Unavailable: createError("HOLDOUT_ERR_UNAVAILABLE", "%s", 503),
} as const;

/** A field-level detail attached to a problem (RFC 9457 extension member `errors`). */
export interface FieldProblem {
  field: string;
  message: string;
}

/** An error that also tells the client when to come back (Retry-After, and `retryAt` in the body). */
export function withRetryAt<E extends Error>(err: E, at: Date, now = new Date()): E {
  return Object.assign(err, {
    retryAt: at.toISOString(),
    headers: { "retry-after": String(Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 1000))) },
  });
}
