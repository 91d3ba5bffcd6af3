import { describe, expect, it } from "vitest";
import { canonicalImageRef, reservedNameClaimed } from "../src/oci-index.ts";

describe("which names an archive may not claim", () => {
  it("reads a reference the way the engine resolves it", () => {
    expect(canonicalImageRef("holdout/base:bookworm")).toBe("docker.io/holdout/base:bookworm");
    expect(canonicalImageRef("docker.io/holdout/base:bookworm")).toBe("docker.io/holdout/base:bookworm");
    expect(canonicalImageRef("ubuntu")).toBe("docker.io/library/ubuntu:latest");
    expect(canonicalImageRef("library/ubuntu:latest")).toBe("docker.io/library/ubuntu:latest");
    expect(canonicalImageRef("localhost:5000/x/y")).toBe("localhost:5000/x/y:latest");
    expect(canonicalImageRef("registry.example/a:1@sha256:ab")).toBe("registry.example/a:1@sha256:ab");
    expect(canonicalImageRef(" Holdout/Base:Bookworm ")).toBe("docker.io/holdout/base:bookworm");
  });

  it("finds a claim on our own images in any spelling, and nothing else", () => {
    const ours = ["holdout/base:bookworm", "holdout/runtime-python:latest"];
    expect(reservedNameClaimed(["docker.io/holdout/base:bookworm"], ours)).toBe(
      "docker.io/holdout/base:bookworm",
    );
    expect(reservedNameClaimed(["someteam/model:v1", "holdout/runtime-python"], ours)).toBe(
      "holdout/runtime-python",
    );
    expect(reservedNameClaimed(["holdout/base:trixie", "bookworm", "holdout/base-x:bookworm"], ours)).toBe(
      undefined,
    );
    expect(reservedNameClaimed(["holdout/base:bookworm"], [])).toBe(undefined);
  });
});
