import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// packages/db owns every query: apps, scripts and benches call its named repository functions and
// never reach Prisma themselves (a model delegate such as `db.submission.findMany`, a raw query, a
// transaction) nor import its generated client. Tests may query directly for setup and assertions,
// so test files and test folders are not scanned. The scan reads the syntax tree, not the text:
// comments and strings never count, and a call split over lines still does.

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SCANNED = ["apps", "scripts", "bench"];
const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;

/** Prisma's model delegates are the schema's models, first letter lowered. */
function modelDelegates(schema: string): Set<string> {
  const names = [...schema.matchAll(/^model\s+(\w+)\s*\{/gm)].map((m) => m[1]!);
  return new Set(names.map((n) => n[0]!.toLowerCase() + n.slice(1)));
}

const DELEGATE_METHODS = new Set([
  "findUnique",
  "findUniqueOrThrow",
  "findFirst",
  "findFirstOrThrow",
  "findMany",
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
  "delete",
  "deleteMany",
  "count",
  "aggregate",
  "groupBy",
]);
const CLIENT_METHODS = new Set([
  "$transaction",
  "$queryRaw",
  "$queryRawUnsafe",
  "$queryRawTyped",
  "$executeRaw",
  "$executeRawUnsafe",
]);
const CLIENT_MODULE = /^@prisma\/|(?:^|\/)generated\/prisma(?:\/|$)|\.prisma\/client/;

interface Finding {
  file: string;
  line: number;
  what: string;
}

/** Every direct use of Prisma in one source file. */
function directQueries(file: string, text: string, models: Set<string>): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Finding[] = [];
  const at = (node: ts.Node, what: string) =>
    found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, what });
  const memberName = (node: ts.Expression): string | null => {
    if (ts.isPropertyAccessExpression(node)) return node.name.text;
    if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
      return node.argumentExpression.text;
    }
    return null;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && CLIENT_METHODS.has(node.text)) {
      // Called, declared in a structural type, or destructured: each one asks for the raw client.
      at(node, node.text);
    } else if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
      const method = memberName(node);
      const model = memberName(node.expression);
      if (method !== null && model !== null && DELEGATE_METHODS.has(method) && models.has(model)) {
        at(node, `${model}.${method}`);
      }
    } else if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      CLIENT_MODULE.test(node.moduleSpecifier.text)
    ) {
      at(node, `import of ${node.moduleSpecifier.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The sources under `dir` that are not tests (relative to the repository, `/`-separated). */
function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name === "node_modules" || entry.name === "test" || entry.name.startsWith(".")) continue;
        walk(child);
      } else if (SOURCE.test(entry.name) && !/\.test\.[cm]?[jt]sx?$/.test(entry.name)) {
        out.push(child);
      }
    }
  };
  walk(dir);
  return out.sort();
}

const MODELS = modelDelegates(readFileSync(path.join(REPO, "prisma/schema.prisma"), "utf8"));

describe("the database boundary", () => {
  it("finds Prisma in any form it can take", () => {
    const planted = [
      'import { PrismaClient } from "@prisma/client";',
      'import type { Db } from "@holdout/db";',
      "const rows = await db.submission.findMany({ where: {} });",
      "await stack.db",
      "  .team",
      "  .update({ where: { id }, data: {} });",
      "await db?.workerHeartbeat?.deleteMany();",
      'await db["auditEvent"]["create"]({ data });',
      "await db.$transaction(async (tx) => tx.submission.count());",
      "const ping = { db: null as unknown as { $queryRaw(q: TemplateStringsArray): Promise<unknown> } };",
      "// db.submission.findMany() in a comment, and in a string:",
      'const text = "db.$queryRaw`SELECT 1`";',
      "runs.delete(run); cache.team.name; queue.count();",
    ].join("\n");
    expect(directQueries("planted.ts", planted, MODELS).map((f) => `${f.line} ${f.what}`)).toEqual([
      "1 import of @prisma/client",
      "3 submission.findMany",
      "4 team.update",
      "7 workerHeartbeat.deleteMany",
      "8 auditEvent.create",
      "9 $transaction",
      "9 submission.count",
      "10 $queryRaw",
    ]);
  });

  it("reads the models from the schema and scans real sources", () => {
    expect([...MODELS]).toEqual(expect.arrayContaining(["submission", "team", "submissionEvent"]));
    for (const dir of SCANNED) expect(sourcesUnder(dir).length).toBeGreaterThan(0);
  });

  it("has no direct query outside packages/db (apps, scripts, bench)", () => {
    const found = SCANNED.flatMap((dir) =>
      sourcesUnder(dir).flatMap((file) =>
        directQueries(file, readFileSync(path.join(REPO, file), "utf8"), MODELS),
      ),
    );
    const report = found.map((f) => `${f.file}:${f.line}: ${f.what}`).join("\n");
    expect(report, "call a repository function of @holdout/db instead").toBe("");
  });
});
