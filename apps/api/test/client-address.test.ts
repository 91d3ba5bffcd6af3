import { describe, expect, it } from "vitest";
import { addressKey, trustProxyOption } from "../src/plugins/client-address.ts";

// One client address, as every per-address limit counts it.

describe("addressKey", () => {
  it.each([
    ["198.51.100.7", "198.51.100.7"],
    // An IPv4 client on a dual-stack socket is the IPv4 address, not the ::ffff:0:0/96 block.
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["::ffff:c633:6407", "198.51.100.7"],
    // IPv6: the /64, however the address is written.
    ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:0000:0000:0000:0001", "2001:db8:1:2::/64"],
    ["2001:db8:1:3::1", "2001:db8:1:3::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["not an address", "not an address"],
  ])("keys %s as %s", (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  it("never puts two IPv4 clients in one bucket", () => {
    expect(addressKey("::ffff:198.51.100.7")).not.toBe(addressKey("::ffff:198.51.100.8"));
  });
});

describe("trustProxyOption", () => {
  it("believes exactly the given number of hops", () => {
    const trust = trustProxyOption({ hops: 2 });
    expect(typeof trust).toBe("function");
    const fn = trust as (addr: string, hop: number) => boolean;
    expect([0, 1, 2].map((hop) => fn("203.0.113.9", hop))).toEqual([true, true, false]);
  });

  it("hands lists to the framework and trusts nothing when off", () => {
    expect(trustProxyOption({ addresses: ["10.0.0.0/8"] })).toEqual(["10.0.0.0/8"]);
    expect(trustProxyOption(false)).toBe(false);
  });
});
