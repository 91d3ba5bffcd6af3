import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// `prisma migrate deploy` (the offline WASM engine) cuts a migration into statements at every
// semicolon, quoted or not, and runs them one by one outside a transaction: a semicolon inside a
// string or a dollar-quoted body splits a statement in two (one in a `--` comment sends the rest
// of the comment as SQL), fails half-way, and leaves the migration half applied. The statements
// before it stay; nothing rolls them back.
const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../prisma/migrations");

/**
 * The semicolons of a migration that sit inside a quoted string or identifier, or in a `--` comment
 * (the text after it would run as SQL), by line.
 */
function quotedSemicolons(sql: string): number[] {
  const lines: number[] = [];
  let quote: "'" | '"' | null = null;
  let line = 1;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "\n") line++;
    if (quote === null && c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      if (sql.slice(i, end < 0 ? sql.length : end).includes(";")) lines.push(line);
      i = (end < 0 ? sql.length : end) - 1;
      continue;
    }
    if (c === "'" || c === '"') {
      if (quote === null) quote = c;
      else if (quote === c) quote = null; // a doubled quote closes and reopens: same outcome
      continue;
    }
    if (c === ";" && quote !== null) lines.push(line);
  }
  return lines;
}

describe("migrations as prisma migrate deploy runs them", () => {
  const dirs = readdirSync(MIGRATIONS, { withFileTypes: true }).filter((d) => d.isDirectory());

  it.each(dirs.map((d) => d.name))("%s has no semicolon inside a string and no $$ body", (name) => {
    const sql = readFileSync(path.join(MIGRATIONS, name, "migration.sql"), "utf8");
    expect(quotedSemicolons(sql), "write a quoted semicolon as chr(59), and none in a comment").toEqual([]);
    expect(sql.includes("$$"), "a DO $$ … $$ block is cut at its first semicolon").toBe(false);
  });

  it("finds a semicolon in a string or a comment where there is one", () => {
    expect(quotedSemicolons("UPDATE t SET a = 'x; y';\n-- a comment, fine\nSELECT 1;")).toEqual([1]);
    expect(quotedSemicolons("SELECT 1;\n-- a comment; the rest runs as SQL\nSELECT 2;")).toEqual([2]);
  });
});
