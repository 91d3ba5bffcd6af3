import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PROBLEMS, problemEntry, problemType, STATUS_TITLES } from "@holdout/contracts";
import { Errors } from "../src/errors.ts";
import { FRAMEWORK_CODES } from "../src/plugins/problem-json.ts";

// Every code a client can meet has an entry in the catalogue the reference page lists (each
// problem's `type` points at it), sent with the status the entry states.

const APPS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.join(e.parentPath, e.name));
}

describe("the problem catalogue", () => {
  it("has every code the API's error catalogue defines, at the same status", () => {
    for (const [name, E] of Object.entries(Errors)) {
      const err = new E("x");
      expect(problemEntry(err.code), `${name} (${err.code})`).toMatchObject({ status: err.statusCode });
    }
  });

  it("has every code framework errors are mapped to, at the same status", () => {
    for (const [from, { code, status }] of Object.entries(FRAMEWORK_CODES)) {
      expect(problemEntry(code), `${from} → ${code}`).toMatchObject({ status });
    }
  });

  it("has every code named anywhere in the API's and the worker's source", async () => {
    const named = new Set<string>();
    for (const app of ["api", "worker"]) {
      for (const file of await sourceFiles(path.join(APPS, app, "src"))) {
        const text = await readFile(file, "utf8");
        for (const m of text.matchAll(/HOLDOUT_ERR_[A-Z][A-Z_]*[A-Z]/g)) named.add(m[0]);
      }
    }
    // The scan sees the codes: a broken pattern must not pass by finding none.
    expect(named).toContain("HOLDOUT_ERR_NOT_READY");
    expect([...named].filter((code) => !problemEntry(code))).toEqual([]);
  });

  it("lists each code once, with a title for its status and a meaning", () => {
    const codes = PROBLEMS.map((p) => p.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const p of PROBLEMS) {
      expect(STATUS_TITLES[p.status], p.code).toBeTruthy();
      expect(p.meaning.length, p.code).toBeGreaterThan(20);
    }
  });

  it("points each problem's type at the code's entry on /docs", () => {
    expect(problemType("HOLDOUT_ERR_UPLOAD_NOT_TAR")).toBe("/docs#problem-holdout_err_upload_not_tar");
  });
});
