import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

// Webhooks: the signature every delivery carries, and the address rule that keeps a webhook from
// reaching inside the server's network (SSRF). The API applies the rule at registration and the
// worker again at each delivery, connecting only to the address it checked (docs/security.md,
// "Webhooks").

/** `Holdout-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>`. */
export const SIGNATURE_HEADER = "Holdout-Signature";
export const WEBHOOK_URL_MAX_LENGTH = 2048;

/** A new signing secret: shown to the team once. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64url")}`;
}

export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * What a receiver does: true when `header` carries a v1 signature of `body` with `secret` made at
 * most `toleranceSeconds` from `nowSeconds` (a replay of an old delivery is refused).
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean {
  const fields = new Map(header.split(",").map((kv) => kv.trim().split("=", 2) as [string, string]));
  const t = Number(fields.get("t"));
  const v1 = fields.get("v1") ?? "";
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).split("v1=")[1] ?? "", "hex");
  const given = Buffer.from(v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function blockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    const [net, bits] = r.split("/") as [string, string];
    list.addSubnet(net, Number(bits), net.includes(":") ? "ipv6" : "ipv4");
  }
  return list;
}

/** Never reachable, whatever the settings: this host's own, link-local (cloud metadata), multicast, reserved. */
const NEVER = blockList([
  "0.0.0.0/8",
  "169.254.0.0/16",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "fe80::/10",
  "ff00::/8",
  "2001:db8::/32",
  "fd00:ec2::254/128",
]);

/**
 * IPv6 forms that carry an IPv4 address (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96), checked for
 * IPv6 addresses only: Node's BlockList matches plain IPv4 addresses against the mapped range too.
 * A mapped address is judged as the IPv4 address it holds; any other such form is refused.
 */
const CARRIES_IPV4 = blockList(["::ffff:0:0/96", "64:ff9b::/96"]);

/** Loopback and private networks: refused unless the organizer allows them (local use, tests). */
const PRIVATE = blockList([
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "::1/128",
  "fc00::/7",
]);

/** Why `address` may not receive a webhook, or null when it may. */
export function refusedAddress(address: string, allowPrivate: boolean): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const mapped = family === 6 ? mappedIpv4(address) : undefined;
  if (family === 6 && !mapped && CARRIES_IPV4.check(address, "ipv6"))
    return `${address} carries an IPv4 address in a form that is not accepted`;
  const [ip, type] = mapped
    ? [mapped, "ipv4" as const]
    : [address, family === 6 ? ("ipv6" as const) : ("ipv4" as const)];
  if (NEVER.check(ip, type)) return `${address} is a link-local, reserved or multicast address`;
  if (!allowPrivate && PRIVATE.check(ip, type)) return `${address} is a loopback or private address`;
  return null;
}

/** The IPv4 address in ::ffff:a.b.c.d or ::ffff:hhhh:hhhh (as URLs and resolvers write it), if any. */
function mappedIpv4(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (dotted) return dotted;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const [hi, lo] = [parseInt(hex[1] ?? "", 16), parseInt(hex[2] ?? "", 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

export class WebhookAddressError extends Error {}

/** A webhook URL as the API takes it: http(s), no credentials in it, at most WEBHOOK_URL_MAX_LENGTH. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length > WEBHOOK_URL_MAX_LENGTH)
    throw new WebhookAddressError(`the URL is longer than ${WEBHOOK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookAddressError("not an absolute URL (e.g. https://example.org/holdout-hook)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new WebhookAddressError(`the scheme must be https or http, not ${url.protocol.replace(":", "")}`);
  if (url.username || url.password)
    throw new WebhookAddressError("the URL must not carry a user name or password");
  return url;
}

/**
 * Resolves the URL's host and checks every address it has; returns the one to connect to. A host
 * with any refused address is refused whole (a resolver that answers in turn could otherwise slip an
 * internal address past the check).
 */
export async function resolveWebhookHost(
  url: URL,
  allowPrivate: boolean,
): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  } catch (err) {
    throw new WebhookAddressError(`the host ${host} does not resolve`, { cause: err });
  }
  for (const a of addresses) {
    const why = refusedAddress(a.address, allowPrivate);
    if (why)
      throw new WebhookAddressError(`the host ${host} resolves to an address webhooks may not reach: ${why}`);
  }
  const first = addresses[0];
  if (!first) throw new WebhookAddressError(`the host ${host} has no address`);
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
