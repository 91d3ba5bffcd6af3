import { Type, type Static } from "typebox";

// Layered uploads (docs/participant-guide.md, "Sending only what changed"): the shapes of the layer
// store's requests and answers, for the API and the CLI alike.

/** `sha256:` and 64 lowercase hex digits: the SHA-256 of an uncompressed layer tar (a diff ID). */
export const LayerDigest = Type.String({ pattern: "^sha256:[0-9a-f]{64}$", maxLength: 71 });

export const LayerQuerySchema = Type.Object(
  { digests: Type.Array(LayerDigest, { maxItems: 256 }) },
  { additionalProperties: false },
);

export const LayersHeldSchema = Type.Object({
  held: Type.Array(Type.String(), {
    description: "the digests asked about that your team's layer store holds; never another team's",
  }),
});
export type LayersHeld = Static<typeof LayersHeldSchema>;

export const LayerReceivedSchema = Type.Object({
  digest: Type.String(),
  size: Type.Integer({ description: "bytes of the uncompressed layer tar, as stored" }),
  receivedBytes: Type.Integer({ description: "bytes that travelled (gzip or plain, as sent)" }),
});
export type LayerReceived = Static<typeof LayerReceivedSchema>;

export const LayeredSubmissionSchema = Type.Object(
  {
    model: Type.String({ maxLength: 1000 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    link: Type.Optional(Type.String({ maxLength: 2000 })),
    ensemble: Type.Optional(Type.Boolean()),
    config: Type.String({
      maxLength: 6 * 1024 ** 2,
      description: "the image config's bytes, base64 (their SHA-256 is the image ID)",
    }),
    layers: Type.Array(Type.String({ maxLength: 100 }), {
      minItems: 1,
      maxItems: 128,
      description: "the layers' digests, bottom first, as the config's rootfs.diff_ids lists them",
    }),
  },
  { additionalProperties: false },
);
export type LayeredSubmission = Static<typeof LayeredSubmissionSchema>;
