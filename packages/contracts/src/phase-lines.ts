/**
 * Phases as an organizer writes them, one per line, on the command line (`--phase`) and in the
 * organizer page's form alike: `name,data,start,end[,feedback[,ranked|unranked]]`.
 *
 * - data: `development`, `hidden` or `hidden_public`
 * - start, end: an ISO 8601 time (`2027-01-15T00:00Z`), `now`, or from now: `+30s`, `+15m`, `+2h`, `+7d`;
 *   the end may be empty or `open` (the last phase then runs until the competition is closed)
 * - feedback: `full` (the development set only) or `released`; by default full on the development
 *   set and released otherwise
 * - ranked by default except on the development set
 *
 * What the phases must be together (in order, not overlapping…) is checked where they are stored;
 * this only reads each line, naming the line and the field that cannot be read.
 */
export const PHASE_DATA = ["development", "hidden", "hidden_public"] as const;
export const PHASE_FEEDBACK = ["full", "released"] as const;

export interface PhaseLine {
  name: string;
  data: (typeof PHASE_DATA)[number];
  startsAt: Date;
  endsAt: Date | null;
  feedback: (typeof PHASE_FEEDBACK)[number];
  ranked: boolean;
}

export const PHASE_LINE_FORMAT = "name,data,start,end[,feedback[,ranked|unranked]]";

export class PhaseLineError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`phase ${line}: ${message}`);
    this.name = "PhaseLineError";
  }
}

const RELATIVE = /^\+(\d+)([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function readTime(text: string, now: Date): Date | undefined {
  if (text === "now") return new Date(now);
  const rel = RELATIVE.exec(text);
  if (rel) return new Date(now.getTime() + Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]);
  // Only full ISO dates: Date.parse would also take "12/1" and guess what it means.
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const isOneOf = <T extends string>(list: readonly T[], v: string): v is T =>
  (list as readonly string[]).includes(v);

/** Reads one phase line (`line` is its 1-based position, for the message). */
export function parsePhaseLine(text: string, line: number, now: Date): PhaseLine {
  const fail = (message: string): never => {
    throw new PhaseLineError(line, message);
  };
  const fields = text.split(",").map((f) => f.trim());
  if (fields.length < 4 || fields.length > 6) {
    fail(`"${text}" has ${fields.length} field(s); expected ${PHASE_LINE_FORMAT}`);
  }
  const [name = "", data = "", start = "", end = "", feedback, ranked] = fields;
  if (name === "") fail("has no name");
  if (!isOneOf(PHASE_DATA, data)) fail(`data "${data}" is not one of ${PHASE_DATA.join(", ")}`);
  const startsAt =
    readTime(start, now) ?? fail(`start "${start}" is not a time (ISO 8601, now, or +N[smhd])`);
  const endsAt =
    end === "" || end === "open"
      ? null
      : (readTime(end, now) ?? fail(`end "${end}" is not a time (ISO 8601, now, +N[smhd], or open)`));
  const dataName = data as PhaseLine["data"];
  let feedbackName: PhaseLine["feedback"] = dataName === "development" ? "full" : "released";
  if (feedback !== undefined && feedback !== "") {
    if (!isOneOf(PHASE_FEEDBACK, feedback)) fail(`feedback "${feedback}" is not one of full, released`);
    feedbackName = feedback as PhaseLine["feedback"];
  }
  let isRanked = dataName !== "development";
  if (ranked !== undefined && ranked !== "") {
    if (ranked !== "ranked" && ranked !== "unranked") fail(`"${ranked}" must be ranked or unranked`);
    isRanked = ranked === "ranked";
  }
  return { name, data: dataName, startsAt, endsAt, feedback: feedbackName, ranked: isRanked };
}

/** Reads several lines (blank ones and `#` comments skipped), numbering them as written. */
export function parsePhaseLines(lines: readonly string[], now: Date): PhaseLine[] {
  const phases: PhaseLine[] = [];
  for (const text of lines) {
    const t = text.trim();
    if (t === "" || t.startsWith("#")) continue;
    phases.push(parsePhaseLine(t, phases.length + 1, now));
  }
  return phases;
}

/** The phases of a competition created without any: one ranked phase on the hidden set, open from now on. */
export function defaultPhases(now: Date): PhaseLine[] {
  return [
    {
      name: "Hidden test set",
      data: "hidden",
      startsAt: now,
      endsAt: null,
      feedback: "released",
      ranked: true,
    },
  ];
}

/**
 * A phase written back as a line `parsePhaseLine` reads to the same phase: what `holdout
 * competition phases SLUG` prints, so an organizer edits the plan and gives it back.
 */
export function formatPhaseLine(
  p: Omit<PhaseLine, "startsAt" | "endsAt"> & { startsAt: Date; endsAt: Date | null },
) {
  const end = p.endsAt ? p.endsAt.toISOString() : "open";
  return [p.name, p.data, p.startsAt.toISOString(), end, p.feedback, p.ranked ? "ranked" : "unranked"].join(
    ",",
  );
}
