import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// The API has one domain layer, src/services/ (docs/architecture.md, "The API's layers"): the
// HTTP routes (src/routes/) and the HTML pages (src/web/) both call it, and neither calls the
// other, so a rule lives in one place and the API and the pages cannot drift apart. A route file
// does not import another route file, and the services import neither routes nor pages. The scan
// reads the syntax tree: comments and strings never count, re-exports and dynamic imports do.

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
const SOURCE = /\.(?:[cm]?ts|tsx)$/;

interface Import {
  line: number;
  specifier: string;
}

/** Every module a source file imports, re-exports from, or loads with import(). */
function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const at = (node: ts.Node, specifier: string) =>
    found.push({ line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, specifier });
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      at(node, node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      at(node, node.arguments[0].text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      at(node, node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The first folder of src/ a file is in ("routes", "web", …), or "" for a file at the top. */
function layerOf(rel: string): string {
  const parts = rel.split("/");
  return parts.length > 1 ? parts[0]! : "";
}

/** Why importing `target` from `from` (both relative to src/) crosses a boundary; null if it may. */
function violation(from: string, target: string): string | null {
  const [a, b] = [layerOf(from), layerOf(target)];
  if (a === "web" && b === "routes") return "a page imports a route: move the shared rule to services/";
  if (a === "routes" && b === "routes" && from !== target) {
    return "a route file imports another: move what they share to services/ or schemas/";
  }
  if (a === "routes" && b === "web") return "a route imports a page: move what they share to services/";
  if (a === "services" && (b === "routes" || b === "web")) {
    return "the domain layer imports the HTTP layer above it";
  }
  return null;
}

/** Every boundary a source file (relative to src/) crosses, as `file:line: specifier: why`. */
function crossings(rel: string, text: string): string[] {
  return importsOf(rel, text).flatMap(({ line, specifier }) => {
    if (!specifier.startsWith(".")) return [];
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), specifier));
    if (target.startsWith("..")) return [];
    const why = violation(rel, target);
    return why ? [`${rel}:${line}: ${specifier}: ${why}`] : [];
  });
}

/** The sources under src/, relative to it, `/`-separated. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(SRC, rel), { withFileTypes: true })) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (SOURCE.test(entry.name)) out.push(child);
    }
  };
  walk("");
  return out.sort();
}

describe("the API's layers", () => {
  it("finds a crossing in any form an import can take", () => {
    const planted = [
      'import { canSeeWhole } from "../routes/submissions.ts";',
      'import type { X } from "../routes/admin.ts";',
      'export { y } from "../routes/finals.ts";',
      'const m = await import("../routes/uploads.ts");',
      'type T = import("../routes/leaderboard.ts").T;',
      '// import { z } from "../routes/health.ts";',
      'const text = "../routes/accounts.ts";',
      'import { chooseFinal } from "../services/finals.ts";',
      'import { formatDate } from "./format.ts";',
    ].join("\n");
    expect(crossings("web/page.ts", planted).map((c) => c.split(": ")[0])).toEqual([
      "web/page.ts:1",
      "web/page.ts:2",
      "web/page.ts:3",
      "web/page.ts:4",
      "web/page.ts:5",
    ]);
    expect(crossings("routes/a.ts", 'import { b } from "./b.ts";\nimport { a } from "./a.ts";')).toEqual([
      "routes/a.ts:1: ./b.ts: a route file imports another: move what they share to services/ or schemas/",
    ]);
    expect(crossings("routes/a.ts", 'import { p } from "../web/plots.ts";')).toHaveLength(1);
    expect(crossings("services/s.ts", 'import { r } from "../routes/a.ts";')).toHaveLength(1);
    expect(crossings("app.ts", 'import r from "./routes/a.ts";\nimport w from "./web/index.ts";')).toEqual(
      [],
    );
  });

  it("scans the real sources", () => {
    const files = sources();
    for (const layer of ["routes", "web", "services"]) {
      expect(files.filter((f) => layerOf(f) === layer).length, layer).toBeGreaterThan(0);
    }
  });

  it("has no page importing a route, no route importing another, no service importing either", () => {
    const found = sources().flatMap((rel) => crossings(rel, readFileSync(path.join(SRC, rel), "utf8")));
    expect(found.join("\n")).toBe("");
  });
});
