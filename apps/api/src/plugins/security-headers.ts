import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security: only when the site is served over https (secure cookies). */
  hsts: boolean;
}

/**
 * Security headers on every response, pages and API alike. The content security policy allows
 * only this origin's own scripts, styles and connections: the pages carry no inline script or
 * style (plots are inline SVG styled by the stylesheet), no CDN and no external font.
 */
export const securityHeaders = fp(
  async (app: FastifyInstance, opts: SecurityHeadersOptions) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      strictTransportSecurity: opts.hsts ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
      referrerPolicy: { policy: "same-origin" },
      xFrameOptions: { action: "deny" },
    });
    app.addHook("onSend", async (_request, reply) => {
      reply.header("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
    });
  },
  { name: "security-headers" },
);
