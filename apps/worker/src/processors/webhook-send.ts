import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { parseWebhookUrl, resolveWebhookHost, SIGNATURE_HEADER, signWebhook } from "@holdout/contracts";

// One try of a webhook delivery. The host is resolved and every address checked here, at delivery
// time (a name that pointed outside at registration may point inside now), and the connection goes
// to the checked address only: the request's `lookup` answers with it, so no second resolution can
// swap it (DNS rebinding). Redirects are not followed (a redirect is an answer, not a 2xx).

/** How much of a receiver's answer is read before the connection is dropped: only its status counts. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookTry {
  url: string;
  secret: string;
  body: string;
  deliveryId: string;
}

export interface WebhookSettings {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** What came of one try: the receiver's status, or why there was none (refused: never worth a retry). */
export type TryResult =
  | { kind: "answered"; statusCode: number }
  | { kind: "error"; error: string }
  | { kind: "refused"; error: string };

export async function sendWebhook(t: WebhookTry, settings: WebhookSettings): Promise<TryResult> {
  let url: URL;
  let target: { address: string; family: 4 | 6 };
  try {
    url = parseWebhookUrl(t.url);
    target = await resolveWebhookHost(url, settings.allowPrivate);
  } catch (err) {
    return { kind: "refused", error: err instanceof Error ? err.message : String(err) };
  }
  const pinned: LookupFunction = (_host, opts, cb) => {
    // Node asks for every address when it may try several families; either way, only the checked one.
    if (opts.all) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const signature = signWebhook(t.secret, t.body, Math.floor(Date.now() / 1000));
  const client = url.protocol === "https:" ? https : http;
  return new Promise<TryResult>((resolve) => {
    let settled = false;
    const finish = (r: TryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = client.request(
      url,
      {
        method: "POST",
        lookup: pinned,
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(t.body),
          "user-agent": "Holdout-Webhook/1",
          [SIGNATURE_HEADER]: signature,
          "Holdout-Event": "submission.ended",
          "Holdout-Delivery": t.deliveryId,
        },
      },
      (res) => {
        let read = 0;
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          // The status is all we need; a receiver that keeps talking is cut off.
          if (read > MAX_RESPONSE_BYTES) {
            finish({ kind: "answered", statusCode: res.statusCode ?? 0 });
            req.destroy();
          }
        });
        res.on("end", () => finish({ kind: "answered", statusCode: res.statusCode ?? 0 }));
        res.on("error", (err) => finish({ kind: "error", error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: "error", error: `no complete answer within ${settings.timeoutMs / 1000} s` });
      req.destroy();
    }, settings.timeoutMs);
    req.on("error", (err) => finish({ kind: "error", error: err.message || String(err) }));
    req.end(t.body);
  });
}
