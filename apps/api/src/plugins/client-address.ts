import ipaddr from "ipaddr.js";

/**
 * Who "one client address" is, for every per-address limit (requests, sign-in and registration
 * attempts, open event streams). IPv4: the address. IPv6: its /64, the smallest network one
 * subscriber is given (a home or office LAN gets a whole /64, and any host in it picks addresses at
 * will: keyed per address, one machine would have 2^64 buckets). An IPv4 client seen on a dual-stack
 * socket as an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`) is keyed as the IPv4 address it is,
 * never by the /64 all such addresses share (`::ffff:0:0/96`), which would throttle every IPv4
 * client as one.
 */
export function addressKey(ip: string): string {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    // Not an address (a test transport, a socket already gone): keyed as given.
    return ip;
  }
  if (addr.kind() === "ipv4") return addr.toString();
  const prefix = (addr as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
  return `${prefix.join(":")}::/64`;
}

/** Names proxy-addr (the framework's X-Forwarded-For reader) knows for whole address ranges. */
export const PROXY_RANGE_NAMES = ["loopback", "linklocal", "uniquelocal"] as const;

/** Whether `entry` is an IP address, a CIDR range or one of PROXY_RANGE_NAMES. */
export function isProxyAddress(entry: string): boolean {
  if ((PROXY_RANGE_NAMES as readonly string[]).includes(entry)) return true;
  if (entry.includes("/")) return ipaddr.isValidCIDR(entry);
  return ipaddr.isValid(entry);
}

/**
 * Which hops of X-Forwarded-For to believe: none, the nearest `hops` proxies (the API is reachable
 * only through them), or the proxies at the listed addresses. Never every hop: then any client
 * names its own address and walks past every per-address limit.
 */
export type TrustProxy = false | { hops: number } | { addresses: string[] };

/** The framework's `trustProxy` option for a TrustProxy. */
export function trustProxyOption(
  trust: TrustProxy,
): false | string[] | ((addr: string, hop: number) => boolean) {
  if (trust === false) return false;
  if ("addresses" in trust) return trust.addresses;
  // Hop 0 is the socket's peer: with one proxy in front, it is trusted and the address it forwards
  // is the client's. (Fastify's own numeric setting trusts nothing, so the count is applied here.)
  const { hops } = trust;
  return (_addr, hop) => hop < hops;
}
