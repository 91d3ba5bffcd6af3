import { describe, expect, it } from "vitest";
import { ConfigError } from "@holdout/contracts";
import { loadApiConfig } from "../src/config.ts";

const valid = {
  DATABASE_URL: "postgresql://u:p@127.0.0.1:5432/db",
  REDIS_URL: "redis://127.0.0.1:6379",
  HOLDOUT_DATA_DIR: "/var/lib/holdout",
};

describe("API configuration", () => {
  it("applies defaults and coerces numbers", () => {
    const c = loadApiConfig({ ...valid, PORT: "9090", HOLDOUT_MAX_UPLOAD_BYTES: "1024" });
    expect(c).toMatchObject({
      PORT: 9090,
      HOST: "127.0.0.1",
      HOLDOUT_MAX_UPLOAD_BYTES: 1024,
      HOLDOUT_COMPETITION: "chexpert",
    });
  });

  it("names every missing or malformed variable at once", () => {
    let error: unknown;
    try {
      loadApiConfig({ PORT: "http", REDIS_URL: "localhost:6379" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/DATABASE_URL: is required/);
    expect(message).toMatch(/REDIS_URL: must be a redis:\/\/ URL/);
    expect(message).toMatch(/HOLDOUT_DATA_DIR: is required/);
    expect(message).toMatch(/PORT:/);
  });

  it("parses the session, rate-limit and bundle settings, refusing a non-boolean flag", () => {
    const c = loadApiConfig({ ...valid, HOLDOUT_COOKIE_SECURE: "false", HOLDOUT_RATE_LIMIT_PER_IP: "7" });
    expect(c).toMatchObject({
      HOLDOUT_COOKIE_SECURE: false,
      HOLDOUT_TRUST_PROXY: false,
      HOLDOUT_RATE_LIMIT_PER_IP: 7,
      HOLDOUT_RATE_LIMIT_PER_TOKEN: 300,
      HOLDOUT_SESSION_TTL_HOURS: 168,
      HOLDOUT_MAX_BUNDLE_FILES: 20000,
    });
    expect(loadApiConfig(valid).HOLDOUT_COOKIE_SECURE).toBe(true);
    expect(() => loadApiConfig({ ...valid, HOLDOUT_COOKIE_SECURE: "nope" })).toThrow(
      /HOLDOUT_COOKIE_SECURE: must be true or false/,
    );
  });

  it.each([
    ["false", false],
    ["0", false],
    ["", false],
    ["1", { hops: 1 }],
    ["2", { hops: 2 }],
    ["10.0.0.2", { addresses: ["10.0.0.2"] }],
    ["10.0.0.0/8, fd00::/8,loopback", { addresses: ["10.0.0.0/8", "fd00::/8", "loopback"] }],
    ["::ffff:172.18.0.2", { addresses: ["::ffff:172.18.0.2"] }],
  ])("reads HOLDOUT_TRUST_PROXY=%j as %j", (value, expected) => {
    expect(loadApiConfig({ ...valid, HOLDOUT_TRUST_PROXY: value }).HOLDOUT_TRUST_PROXY).toEqual(expected);
  });

  it.each([
    ["true", /HOLDOUT_TRUST_PROXY: trusting every hop lets any client set its own address/],
    ["TRUE", /trusting every hop/],
    ["11", /at most 10 proxy hops/],
    ["10.0.0.0/33", /not an IP address, CIDR range or loopback\/linklocal\/uniquelocal: "10.0.0.0\/33"/],
    ["proxy.example, 10.0.0.1", /"proxy.example"/],
    ["10.0.0.1,", /""/],
  ])("refuses HOLDOUT_TRUST_PROXY=%j", (value, message) => {
    expect(() => loadApiConfig({ ...valid, HOLDOUT_TRUST_PROXY: value })).toThrow(message);
  });

  it("caps live tokens and event streams by default", () => {
    expect(loadApiConfig(valid)).toMatchObject({
      HOLDOUT_MAX_LIVE_TOKENS: 10,
      HOLDOUT_EVENT_STREAMS_PER_TEAM: 10,
      HOLDOUT_EVENT_STREAMS_PER_IP: 20,
    });
  });
});
