import type { FastifyRequest } from "fastify";
import { Errors } from "../errors.ts";
import { readField, FIELDS_FIRST, validateFields } from "./upload-fields.ts";
import { removeUpload, storeFile, type ReceivedUpload, type UploadTarget } from "./upload-store.ts";

// busboy's messages for bodies that are not well-formed multipart; they carry no status code.
const MALFORMED =
  /^(Unexpected end of (form|file|multipart data)|Malformed part header|Multipart: Boundary not found|Malformed urlencoded form)/;

export function assertMultipart(request: FastifyRequest) {
  if (!request.isMultipart()) {
    throw new Errors.NotMultipart(
      "send the submission as multipart/form-data: fields model, description, link, ensemble, then the file field image (or bundle and command)",
    );
  }
}

/**
 * Reads a submission's multipart body: fields first, then exactly one file part `image` or
 * `bundle`, streamed to disk while its size and SHA-256 are computed. Fields are validated before a
 * single byte of the file is written. On any failure, the partial file is removed.
 */
export async function receiveUpload(request: FastifyRequest, target: UploadTarget): Promise<ReceivedUpload> {
  assertMultipart(request);
  const raw: Record<string, string> = {};
  let upload: ReceivedUpload | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type === "field") {
        readField(part, raw, upload !== null);
        continue;
      }
      if (upload) {
        part.file.resume();
        throw new Errors.InvalidField("send exactly one file per submission");
      }
      const hint = Object.keys(raw).length === 0 ? FIELDS_FIRST : "";
      upload = await storeFile(part, validateFields(raw, hint), target);
    }
  } catch (err) {
    if (upload) await removeUpload(target.dataDir, upload);
    if (err instanceof Error && !("statusCode" in err) && MALFORMED.test(err.message)) {
      throw new Errors.MalformedMultipart(`the multipart body is malformed: ${err.message}`);
    }
    throw err;
  }
  if (!upload) {
    throw new Errors.MissingFile(
      "no file: add the file field `image` holding a `docker save` tarball (plain or gzipped), or `bundle` holding a zip or tar.gz of code",
    );
  }
  return upload;
}
