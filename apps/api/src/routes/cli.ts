import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { CliPackageInfoSchema, type CliPackageInfo } from "@holdout/contracts/http";
import { Errors } from "../errors.ts";
import { cliPackage } from "../services/cli-package.ts";

/**
 * The participants' CLI, packaged by this server from its own sources (services/cli-package.ts):
 * `GET /api/v1/cli` says where it is and the one line that installs it (registered under the API's
 * prefix); `GET /cli/<file>.tgz` (cliPackageRoutes, outside it) is the package. Public: it holds
 * nothing but the command's code.
 */
const cliRoutes: FastifyPluginCallbackTypebox = (app, _opts, done) => {
  app.get(
    "/cli",
    {
      schema: {
        summary: "The holdout command, as this server packages it",
        description:
          "The participants' command line (`holdout submit`, `status`, `leaderboard`, `score`, `testset`) as an npm package built from this server's own sources: `install` is the one line that installs it (Node.js 20.19 or later, nothing else). Its version is the server's; the command warns when it talks to a server of another version.",
        response: { 200: CliPackageInfoSchema },
      },
    },
    async (request): Promise<CliPackageInfo> => {
      const pkg = await cliPackage();
      const url = `${request.protocol}://${request.host}/cli/${pkg.fileName}`;
      return {
        name: pkg.name,
        version: pkg.version,
        url,
        sha256: pkg.sha256,
        integrity: pkg.integrity,
        bytes: pkg.bytes.length,
        install: `npm install -g ${url}`,
      };
    },
  );
  done();
};

/** The package itself, at `/cli/holdout-cli-<version>.tgz`. */
export const cliPackageRoutes: FastifyPluginCallbackTypebox = (app, _opts, done) => {
  app.get(
    "/cli/:file",
    {
      schema: {
        summary: "The holdout command's npm package (a .tgz)",
        params: Type.Object({ file: Type.String() }),
        produces: ["application/gzip"],
      },
    },
    async (request, reply) => {
      const pkg = await cliPackage();
      if (request.params.file !== pkg.fileName) {
        throw new Errors.NotFound(
          `this server serves the holdout command as /cli/${pkg.fileName}, not ${JSON.stringify(request.params.file)}: GET /api/v1/cli says where it is`,
        );
      }
      return reply
        .type("application/gzip")
        .header("content-disposition", `attachment; filename="${pkg.fileName}"`)
        .header("cache-control", "public, max-age=300")
        .header("etag", `"${pkg.sha256}"`)
        .send(pkg.bytes);
    },
  );
  done();
};

export default cliRoutes;
