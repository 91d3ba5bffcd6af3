import { Type, type Static } from "typebox";

/** `GET /api/v1/cli`: the participants' command as this server packages it. */
export const CliPackageInfoSchema = Type.Object({
  name: Type.String({ description: "The npm package's name." }),
  version: Type.String({ description: "The server's version; the CLI warns when a server runs another." }),
  url: Type.String({ description: "Where the package tarball is served (absolute)." }),
  sha256: Type.String({ description: "The tarball's SHA-256, hex." }),
  integrity: Type.String({ description: "npm's integrity string of the tarball (sha512, base64)." }),
  bytes: Type.Integer({ description: "The tarball's size." }),
  install: Type.String({ description: "The one line that installs it." }),
});
export type CliPackageInfo = Static<typeof CliPackageInfoSchema>;

/** `GET /api/v1/downloads`: the files the organizers hand out from this server (e.g. the base image). */
export const DownloadListSchema = Type.Object({
  files: Type.Array(
    Type.Object({
      name: Type.String({ description: "The file's name, e.g. `holdout-base-bookworm.tar.gz`." }),
      bytes: Type.Integer({ description: "Its size." }),
      url: Type.String({ description: "Where it is served (absolute)." }),
    }),
  ),
});
export type DownloadList = Static<typeof DownloadListSchema>;
