import { afterEach, describe, expect, it, vi } from "vitest";

// The packaged CLI carries its version (set at build: services/cli-package.ts) and warns once when
// a server answers with another; the checkout's CLI carries none and never warns.

async function freshClient(version: string | undefined) {
  vi.resetModules();
  if (version === undefined) vi.stubEnv("HOLDOUT_CLI_VERSION", undefined);
  else vi.stubEnv("HOLDOUT_CLI_VERSION", version);
  return import("../src/api-client.ts");
}

const remote = { server: "https://holdout.example", token: null };
const answer = (version: string) => new Response(null, { headers: { "holdout-version": version } });

describe("the server's version", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("warns once, naming the server's package, when the versions differ", async () => {
    const { noteServerVersion } = await freshClient("1.0.0");
    const warn = vi.spyOn(console, "error").mockImplementation(() => {});
    noteServerVersion(remote, answer("1.2.0"));
    noteServerVersion(remote, answer("1.2.0"));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toBe(
      "holdout: warning: this command is version 1.0.0, the server runs 1.2.0; install the server's: npm install -g https://holdout.example/cli/holdout-cli-1.2.0.tgz",
    );
  });

  it("says nothing when they match, or when the command is the checkout's own", async () => {
    const warn = vi.spyOn(console, "error").mockImplementation(() => {});
    (await freshClient("1.0.0")).noteServerVersion(remote, answer("1.0.0"));
    (await freshClient(undefined)).noteServerVersion(remote, answer("9.9.9"));
    expect(warn).not.toHaveBeenCalled();
  });
});
