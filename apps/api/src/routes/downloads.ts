import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { DownloadListSchema, type DownloadList } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { downloadType, listDownloads, openDownload } from "../services/downloads.ts";

export interface DownloadRoutesOptions {
  dataDir: string;
}

/**
 * The files organizers hand out (services/downloads.ts): `GET /api/v1/downloads` lists them
 * (registered under the API's prefix), `GET /downloads/<name>` (downloadFileRoutes) serves one.
 * Public, as the CLI's package is: they hold what any team may have.
 */
const downloadListRoutes: FastifyPluginCallbackTypebox<DownloadRoutesOptions> = (app, opts, done) => {
  app.get(
    "/downloads",
    {
      schema: {
        summary: "The files the organizers hand out from this server, such as the base image",
        description:
          "Whatever the organizers placed for teams, e.g. `holdout-base-bookworm.tar.gz` (`docker load -i` it) for teams whose Docker engine reaches no registry. Empty when they placed nothing.",
        response: { 200: DownloadListSchema },
      },
    },
    async (request): Promise<DownloadList> => {
      const files = await listDownloads(opts.dataDir);
      const base = `${request.protocol}://${request.host}/downloads/`;
      return { files: files.map((f) => ({ ...f, url: `${base}${f.name}` })) };
    },
  );
  done();
};

export const downloadFileRoutes: FastifyPluginCallbackTypebox<DownloadRoutesOptions> = (app, opts, done) => {
  app.get(
    "/downloads/:file",
    {
      schema: {
        summary: "One of the files the organizers hand out",
        params: Type.Object({ file: Type.String() }),
        produces: ["application/octet-stream"],
      },
    },
    async (request, reply) => {
      const { file } = request.params;
      const opened = await openDownload(opts.dataDir, file);
      if (!opened) {
        throw new Errors.NotFound(
          `this server hands out no file ${JSON.stringify(file)}: GET /api/v1/downloads lists what it has`,
        );
      }
      return reply
        .type(downloadType(file))
        .header("content-length", opened.bytes)
        .header("content-disposition", `attachment; filename="${file}"`)
        .header("cache-control", "no-cache")
        .send(opened.handle.createReadStream());
    },
  );
  done();
};

export default downloadListRoutes;
