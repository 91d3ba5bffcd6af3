import type { Eta } from "eta";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from "fastify";
import { findCompetitionBySlug } from "@holdout/db";
import { baseServer, type AppDeps } from "./app.ts";
import { competitionBase, registerCompetition } from "./competition-routes.ts";
import { Errors } from "./errors.ts";

/** A competition's own URLs: its API scope and its pages, each followed by the rest of the path. */
const SCOPED = /^\/(api\/v1\/competitions|c)\/([^/?#]+)(.*)$/s;

export interface CompetitionScopes {
  /** An onRequest hook of the main instance: hands a competition's request to that competition's instance. */
  route(request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void;
  /** Whether this request of the main instance was handed to another instance (which counts it). */
  handedOver(request: FastifyRequest): boolean;
  close(log: FastifyBaseLogger): Promise<void>;
}

/**
 * Serves every competition under its own URLs (docs/architecture.md, "The HTTP API"). A
 * competition other than the default one gets a server instance of its own, built on its first
 * request and kept (so one created a moment ago, from the command line or the organizer pages, is
 * served at once, without a restart): the same route plugins and pages as the default's, registered
 * with its id, its services and its base (`/api/v1/competitions/{slug}`, `/c/{slug}`), so a rule is
 * written once and nothing of one competition can answer for another. The request is handed over
 * before the main instance reads its body or its credentials; the other instance limits,
 * authenticates and answers it. The default competition's scoped URLs are its top-level ones.
 */
export function competitionScopes(deps: AppDeps, views: Eta): CompetitionScopes {
  const instances = new Map<string, Promise<FastifyInstance | null>>();
  const handed = new WeakSet<FastifyRequest>();

  const build = async (main: FastifyInstance, slug: string): Promise<FastifyInstance | null> => {
    const c = await findCompetitionBySlug(deps.db, slug);
    if (!c) return null;
    const { app, limits } = await baseServer(deps, c.id, { docs: false, metrics: main.apiMetrics });
    const info = {
      id: c.id,
      slug: c.slug,
      name: c.name,
      aucFloor: c.aucFloor,
      scorer: c.scorer,
      tasks: c.tasks,
    };
    await registerCompetition(app, deps, info, competitionBase(c.slug), views, limits.keyPrefix);
    await app.ready();
    return app;
  };

  const instanceOf = (main: FastifyInstance, slug: string): Promise<FastifyInstance | null> => {
    let pending = instances.get(slug);
    if (!pending) {
      pending = build(main, slug);
      instances.set(slug, pending);
      // Neither a failed build nor an unknown slug is kept: the next request tries again (the
      // competition may have been created since).
      pending.then(
        (app) => {
          if (!app) instances.delete(slug);
        },
        () => instances.delete(slug),
      );
    }
    return pending;
  };

  return {
    route(request, reply, next) {
      const match = SCOPED.exec(request.raw.url ?? "");
      if (!match) return next();
      const [, kind, slug = "", rest = ""] = match;
      const main = request.server;
      if (slug === deps.competition.slug) {
        // The default competition: the same request at its top-level URL, in this instance.
        request.raw.url = kind === "c" ? rest || "/" : `/api/v1${rest}`;
        handed.add(request);
        void reply.hijack();
        main.routing(request.raw, reply.raw);
        return;
      }
      instanceOf(main, slug).then(
        (app) => {
          if (!app) return next(new Errors.NotFound(`no competition ${slug} on this server`));
          handed.add(request);
          void reply.hijack();
          app.routing(request.raw, reply.raw);
        },
        (err: unknown) => next(err as Error),
      );
    },
    handedOver: (request) => handed.has(request),
    async close(log) {
      const built = await Promise.allSettled([...instances.values()]);
      instances.clear();
      // Every instance is closed, whichever failed before it.
      const closing: Promise<void>[] = [];
      for (const b of built) if (b.status === "fulfilled" && b.value) closing.push(b.value.close());
      for (const r of await Promise.allSettled(closing)) {
        if (r.status === "rejected") log.error({ err: r.reason as Error }, "closing a competition failed");
      }
    },
  };
}
