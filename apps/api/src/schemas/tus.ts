import { Type } from "typebox";

// The tus 1.0 protocol as the resumable upload routes speak it, for validation and for the OpenAPI
// document: the headers each request sends and each answer carries.

export const TUS_VERSION = "1.0.0";

/**
 * The tus extensions this server serves, as OPTIONS advertises them: creation (POST, with a deferred
 * length, or with the first bytes in its body), termination (DELETE) and expiration (an upload with
 * no request for the quota slot's lifetime is deleted; `Upload-Expires` says when).
 */
export const TUS_EXTENSIONS = [
  "creation",
  "creation-with-upload",
  "creation-defer-length",
  "termination",
  "expiration",
] as const;

const text = (description: string) => ({ type: "string", description });

const TUS_RESUMABLE = text("`1.0.0`: the protocol version of this answer");
const UPLOAD_OFFSET = text("bytes the server has of the upload (decimal)");
const UPLOAD_EXPIRES = text(
  "when the upload is deleted if no request for it arrives before (HTTP-date); renewed by each request",
);
const SUBMISSION_ID = text("once the last byte is in: the submission the upload became");
const SUBMISSION_STATE = text("once the last byte is in: that submission's state (`queued`)");

/** Request headers every tus request but OPTIONS sends. */
const TusResumableHeader = Type.Literal(TUS_VERSION, {
  description: "the tus version the client speaks; another (or none) is answered 412 with `Tus-Version`",
});

export const CreateHeaders = Type.Object({
  "tus-resumable": TusResumableHeader,
  "upload-length": Type.Optional(
    Type.String({
      maxLength: 20,
      description: "the file's size in bytes (or send `Upload-Defer-Length: 1`)",
    }),
  ),
  "upload-defer-length": Type.Optional(
    Type.Literal("1", { description: "the size is not known yet; a later PATCH sends `Upload-Length`" }),
  ),
  "upload-metadata": Type.Optional(
    Type.String({
      maxLength: 16 * 1024,
      description:
        "comma-separated `key base64value` pairs: `model` (required), `description`, `link`, `ensemble`, `kind` (`image`, default, or `bundle`), `command` (bundles)",
    }),
  ),
});

export const TusHeaders = Type.Object({ "tus-resumable": TusResumableHeader });

export const PatchHeaders = Type.Object({
  "tus-resumable": TusResumableHeader,
  "upload-offset": Type.String({
    maxLength: 20,
    description: "where this chunk starts: the server's offset (HEAD), or 409",
  }),
  "upload-length": Type.Optional(
    Type.String({
      maxLength: 20,
      description: "the size, once known, for an upload created with a deferred length",
    }),
  ),
});

/**
 * A body tus reads from the connection itself (fastify sees an empty string): a PATCH's chunk, and
 * the first bytes sent with a POST (creation-with-upload).
 */
export const ChunkBody = {
  content: {
    "application/offset+octet-stream": {
      schema: Type.String({
        contentEncoding: "binary",
        description: "the upload's bytes from Upload-Offset on",
      }),
    },
  },
};

export const OptionsResponse = Type.Null({
  description: "What the server speaks (tus discovery); no credentials needed",
  headers: {
    "tus-resumable": TUS_RESUMABLE,
    "tus-version": text("the tus versions served: `1.0.0`"),
    "tus-extension": text(`the extensions served: \`${TUS_EXTENSIONS.join(",")}\``),
    "tus-max-size": text("the largest upload accepted, in bytes"),
  },
});

export const CreatedResponse = Type.Null({
  description:
    "Created; send the bytes with PATCH to `Location`. A quota slot is held until it ends or expires.",
  headers: {
    location: text("the upload's URL (relative): `/api/v1/uploads/{id}`"),
    "tus-resumable": TUS_RESUMABLE,
    "upload-offset": UPLOAD_OFFSET,
    "upload-expires": UPLOAD_EXPIRES,
    "holdout-submission-id": SUBMISSION_ID,
    "holdout-submission-state": SUBMISSION_STATE,
  },
});

export const OffsetResponse = Type.Null({
  description: "The upload's state; no body. An upload that already became a submission names it.",
  headers: {
    "tus-resumable": TUS_RESUMABLE,
    "upload-offset": UPLOAD_OFFSET,
    "upload-length": text("the upload's size in bytes, once known"),
    "upload-defer-length": text("`1` while the size is not known"),
    "upload-metadata": text("the metadata sent at creation"),
    "upload-expires": UPLOAD_EXPIRES,
    "cache-control": text("`no-store`"),
    "holdout-submission-id": SUBMISSION_ID,
    "holdout-submission-state": SUBMISSION_STATE,
    location: text("for a finished upload: its submission's URL"),
  },
});

export const ChunkResponse = Type.Null({
  description: "The chunk is stored; the last one turns the upload into a submission",
  headers: {
    "tus-resumable": TUS_RESUMABLE,
    "upload-offset": UPLOAD_OFFSET,
    "upload-expires": UPLOAD_EXPIRES,
    "holdout-submission-id": SUBMISSION_ID,
    "holdout-submission-state": SUBMISSION_STATE,
  },
});

export const TerminatedResponse = Type.Null({
  description: "Deleted: the bytes are gone and the quota slot is given back",
  headers: { "tus-resumable": TUS_RESUMABLE },
});
