import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "@holdout/contracts";
import { MAX_RESPONSE_BYTES, sendWebhook } from "../src/processors/webhook-send.ts";

// One try of a delivery against a real local listener: what it sends, the address check made at
// delivery time (not only at registration), and the limits on a receiver that hangs or talks on.
describe("sending one webhook delivery", () => {
  let server: http.Server;
  let base: string;
  const hits: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        hits.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === "/hang") return; // never answers
        if (req.url === "/flood") {
          res.writeHead(200);
          const chunk = Buffer.alloc(16 * 1024, 120);
          const pump = () => {
            while (res.write(chunk)) if (res.writableLength > 4 * MAX_RESPONSE_BYTES) break;
          };
          pump();
          res.on("drain", pump);
          return;
        }
        res.writeHead(req.url === "/teapot" ? 418 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const send = (path: string, allowPrivate = true, timeoutMs = 5_000) =>
    sendWebhook(
      { url: `${base}${path}`, secret: "whsec_t", body: '{"a":1}', deliveryId: "d-1" },
      { allowPrivate, timeoutMs },
    );

  it("posts the body signed, with the delivery's id, and reports the answer", async () => {
    expect(await send("/ok")).toEqual({ kind: "answered", statusCode: 204 });
    const hit = hits.find((h) => h.path === "/ok");
    expect(hit?.body).toBe('{"a":1}');
    expect(hit?.headers["holdout-delivery"]).toBe("d-1");
    expect(verifyWebhook("whsec_t", '{"a":1}', String(hit?.headers["holdout-signature"]))).toBe(true);
    expect(await send("/teapot")).toEqual({ kind: "answered", statusCode: 418 });
  });

  it("refuses a loopback receiver at delivery time without the setting, and never connects", async () => {
    const before = hits.length;
    const r = await send("/ok", false);
    expect(r).toMatchObject({ kind: "refused" });
    expect(r.kind === "refused" && r.error).toMatch(/loopback or private/);
    expect(hits.length).toBe(before);
  });

  it("gives up on a receiver that does not answer in time", async () => {
    expect(await send("/hang", true, 300)).toEqual({
      kind: "error",
      error: "no complete answer within 0.3 s",
    });
  });

  it("stops reading a receiver that keeps talking, keeping its status", async () => {
    expect(await send("/flood")).toEqual({ kind: "answered", statusCode: 200 });
  });
});
