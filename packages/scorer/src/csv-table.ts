/** Shared CSV reading for predictions and label files: records, header lookup, one-line messages. */
import { CsvError } from "csv-parse";
import { parse } from "csv-parse/sync";
import type { CsvFormatError } from "./errors.ts";

/** Builds the error class of the caller (PredictionsError or LabelsError). */
export type CsvErrorFactory = (message: string, row: number | null, column: string | null) => CsvFormatError;

export interface CsvRow {
  /** Record number, header = 1 (see CsvFormatError). */
  readonly row: number;
  readonly fields: readonly string[];
}

export interface CsvTable {
  readonly header: readonly string[];
  readonly rows: readonly CsvRow[];
}

/** A value quoted for a one-line message: JSON escapes newlines; long values are cut. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/** "<source> row 3, column "Edema": <what>" — every CSV message has this shape. */
export function at(source: string, row: number | null, column: string | null, what: string): string {
  const where = [row === null ? null : `row ${row}`, column === null ? null : `column ${quote(column)}`]
    .filter((part) => part !== null)
    .join(", ");
  return where === "" ? `${source}: ${what}` : `${source} ${where}: ${what}`;
}

/**
 * Parses CSV text into a header and rows of exactly the header's width. Tolerates a UTF-8 byte-order
 * mark, CRLF or LF line ends, quoted fields and blank lines (skipped, not counted as rows).
 */
export function readCsvTable(text: string, source: string, fail: CsvErrorFactory): CsvTable {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (body.trim() === "") throw fail(at(source, null, null, "the file is empty"), null, null);

  let records: string[][];
  try {
    records = parse(body, { relax_column_count: true, skip_empty_lines: true });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // `records` counts the records completed before the faulty one.
    const row = typeof error.records === "number" ? error.records + 1 : null;
    const reason = error.message.split(":")[0] ?? error.code;
    throw fail(at(source, row, null, `malformed CSV (${reason})`), row, null);
  }

  const [header = [], ...data] = records;
  const rows = data.map((fields, i): CsvRow => ({ row: i + 2, fields }));
  for (const { row, fields } of rows) {
    if (fields.length !== header.length) {
      const what = `has ${fields.length} fields but the header has ${header.length}`;
      throw fail(at(source, row, null, what), row, null);
    }
  }
  return { header, rows };
}

/**
 * Finds the index of each required column by exact name; order is free and other columns are ignored.
 * A missing or repeated required column fails at row 1 (the header).
 */
export function findColumns<const N extends string>(
  table: CsvTable,
  required: readonly N[],
  source: string,
  fail: CsvErrorFactory,
): Record<N, number> {
  const columns = {} as Record<N, number>;
  for (const name of required) {
    const indexes = table.header.flatMap((cell, i) => (cell === name ? [i] : []));
    if (indexes.length > 1) {
      throw fail(at(source, 1, name, `the header names this column ${indexes.length} times`), 1, name);
    }
    const index = indexes[0];
    if (index === undefined) {
      const near = table.header.find((cell) => cell.trim().toLowerCase() === name.toLowerCase());
      const hint =
        near !== undefined
          ? `; found ${quote(near)}, names must match exactly`
          : looksLikeData(table.header)
            ? `; row 1 looks like data, not a header (${quoteRow(table.header)}): write the header row first`
            : "";
      const what = `missing from the header (required: ${required.join(", ")}, in any order)${hint}`;
      throw fail(at(source, 1, name, what), 1, name);
    }
    columns[name] = index;
  }
  return columns;
}

/** A first row holding a number or a path is a row of data: the header was left out. */
function looksLikeData(cells: readonly string[]): boolean {
  return cells.some((cell) => typeof parseFiniteNumber(cell) === "number" || cell.includes("/"));
}

/** The first few cells of a row, each cut short, as a message quotes them. */
function quoteRow(cells: readonly string[]): string {
  return `${cells.slice(0, 3).map(quote).join(", ")}${cells.length > 3 ? ", …" : ""}`;
}

/** Study ids compare without one trailing slash. */
export function normalizeStudy(study: string): string {
  return study.endsWith("/") ? study.slice(0, -1) : study;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A finite real number written in decimal (surrounding spaces allowed, as Python's float() allows),
 * or the reason it is not one. Rejects empty, NaN, Infinity, hexadecimal and values overflowing float64.
 */
export function parseFiniteNumber(raw: string): number | { problem: string } {
  const text = raw.trim();
  if (text === "") return { problem: "the value is empty" };
  if (!DECIMAL.test(text)) {
    const nonFinite = /^[+-]?(?:nan|inf|infinity)$/i.test(text);
    return { problem: `${quote(raw)} is not ${nonFinite ? "a finite number" : "a number"}` };
  }
  const value = Number(text);
  if (!Number.isFinite(value)) return { problem: `${quote(raw)} is not a finite float64 number` };
  return value;
}
