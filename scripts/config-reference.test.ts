import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ApiConfigSchema } from "../apps/api/src/config.ts";
import { WorkerConfigSchema } from "../apps/worker/src/config.ts";
import { REFERENCE_FILE, renderConfigReference } from "./config-reference.ts";

describe("docs/configuration.md", () => {
  it("is exactly what `npm run docs:config` generates from the schemas (regenerate it if this fails)", async () => {
    expect(readFileSync(REFERENCE_FILE, "utf8")).toBe(await renderConfigReference());
  });

  it("documents every variable of both schemas, each with a meaning", async () => {
    const md = await renderConfigReference();
    for (const name of [...Object.keys(ApiConfigSchema.shape), ...Object.keys(WorkerConfigSchema.shape)]) {
      const row = md.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, name).toBeDefined();
      const meaning = row
        ?.split(" | ")
        .at(-1)
        ?.replace(/\|\s*$/, "")
        .trim();
      expect(meaning, `${name} has no description: add a comment above it in its schema`).not.toBe("");
    }
  });
});
