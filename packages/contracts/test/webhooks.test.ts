import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  parseWebhookUrl,
  refusedAddress,
  resolveWebhookHost,
  signWebhook,
  verifyWebhook,
  WebhookAddressError,
} from "../src/webhooks.ts";

describe("webhook signatures", () => {
  const body = '{"event":"submission.ended"}';

  it("are HMAC-SHA256 over `<t>.<raw body>`, as a receiver recomputes them", () => {
    const header = signWebhook("whsec_x", body, 1_800_000_000);
    const mac = createHmac("sha256", "whsec_x").update(`1800000000.${body}`).digest("hex");
    expect(header).toBe(`t=1800000000,v1=${mac}`);
    expect(verifyWebhook("whsec_x", body, header, 1_800_000_010)).toBe(true);
  });

  it("fail with another secret, a changed body, or an old timestamp (a replay)", () => {
    const header = signWebhook("whsec_x", body, 1_800_000_000);
    expect(verifyWebhook("whsec_y", body, header, 1_800_000_000)).toBe(false);
    expect(verifyWebhook("whsec_x", `${body} `, header, 1_800_000_000)).toBe(false);
    expect(verifyWebhook("whsec_x", body, header, 1_800_000_000 + 301)).toBe(false);
    expect(verifyWebhook("whsec_x", body, "t=1800000000,v1=zz", 1_800_000_000)).toBe(false);
  });
});

describe("the addresses a webhook may reach", () => {
  it.each([
    ["127.0.0.1", "loopback or private"],
    ["10.0.0.8", "loopback or private"],
    ["172.20.1.1", "loopback or private"],
    ["192.168.1.1", "loopback or private"],
    ["100.64.0.1", "loopback or private"],
    ["::1", "loopback or private"],
    ["fd12::1", "loopback or private"],
    ["::ffff:127.0.0.1", "loopback or private"],
    ["::ffff:7f00:1", "loopback or private"],
    ["169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["0.0.0.0", "link-local, reserved"],
    ["224.0.0.1", "multicast"],
    ["64:ff9b::a00:1", "IPv4 address in a form"],
  ])("refuses %s", (address, why) => {
    expect(refusedAddress(address, false)).toContain(why);
  });

  it("accepts public addresses", () => {
    for (const a of ["93.184.215.14", "2606:4700::6810:85e5", "::ffff:93.184.215.14"])
      expect(refusedAddress(a, false)).toBeNull();
  });

  it("with the organizer's setting, accepts loopback and private networks but never link-local", () => {
    expect(refusedAddress("127.0.0.1", true)).toBeNull();
    expect(refusedAddress("10.0.0.8", true)).toBeNull();
    expect(refusedAddress("169.254.169.254", true)).toContain("link-local");
  });

  it("checks every address a name resolves to", async () => {
    await expect(resolveWebhookHost(new URL("http://localhost/x"), false)).rejects.toThrow(/loopback/);
    await expect(resolveWebhookHost(new URL("http://[::ffff:10.0.0.1]/x"), false)).rejects.toThrow(/private/);
    await expect(resolveWebhookHost(new URL("http://127.0.0.1:9/x"), true)).resolves.toEqual({
      address: "127.0.0.1",
      family: 4,
    });
  });

  it("takes only http(s) URLs without credentials", () => {
    expect(() => parseWebhookUrl("ftp://example.org/")).toThrow(WebhookAddressError);
    expect(() => parseWebhookUrl("https://u:p@example.org/")).toThrow(/user name or password/);
    expect(() => parseWebhookUrl("example.org/hook")).toThrow(/absolute URL/);
    expect(parseWebhookUrl("https://example.org/hook?x=1").host).toBe("example.org");
  });
});
