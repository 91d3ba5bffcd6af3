import { unicodeName } from "unicode-name";
import type { z } from "zod";
import { Errors } from "../errors.ts";

// What text shown to others (team, model and institution names, descriptions, links, labels) may
// hold. A name is read by people on the leaderboard, so everything that is not seen, or that changes
// how the text around it is seen, is refused: then two names that look the same are the same
// characters (up to case, width and spacing, which the database's unique key folds). Refused, by
// Unicode property:
//   Cc          control characters (NUL, ESC, DEL, C1); line breaks and tabs only in multi-line text
//   Cf          format characters: the text-direction controls (LRM, RLM, ALM, the embeddings,
//               overrides and isolates), zero-width space and joiners, word joiner, soft hyphen,
//               the byte order mark, tags, invisible operators
//   Zl, Zp      the line and paragraph separators
//   Default_Ignorable_Code_Point
//               what renders as nothing though not Cf: variation selectors, the Hangul fillers,
//               the combining grapheme joiner, Mongolian free variation selectors
//   Co, Cs, noncharacters
//               private-use characters (each font draws what it likes), lone surrogates
//   U+2800      BRAILLE PATTERN BLANK, which renders as a blank
// Kept, where they are part of what is seen:
//   ZWJ in an emoji sequence (👩‍🔬), and ZWJ / ZWNJ between letters of a script whose shaping they
//   change (Arabic, Persian, the Indic scripts; not Latin, Greek or Cyrillic, where they do nothing);
//   VS15 / VS16 right after an emoji (text or emoji style, ❤️).
// PostgreSQL text cannot store NUL at all (it would surface as a 500), so this also keeps it out.

const REFUSED =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Noncharacter_Code_Point}\p{Default_Ignorable_Code_Point}\u2800]/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const LINE_BREAKS = new Set(["\t", "\n", "\r"]);

const ZWNJ = "\u200C";
const ZWJ = "\u200D";
const EMOJI_PRESENTATION = new Set(["\uFE0E", "\uFE0F"]);
const EMOJI = /\p{Emoji}/u;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const EMOJI_JOINS_AFTER = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]/u;
const LETTER = /[\p{L}\p{M}]/u;
const NO_JOINING =
  /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}\p{Script=Inherited}]/u;

/** A character a shown text may not hold, where it is, and why. */
export interface RefusedCharacter {
  /** "U+202E RIGHT-TO-LEFT OVERRIDE" */
  character: string;
  /** 1-based, in characters (code points) from the start of the value as sent. */
  position: number;
  kind: string;
}

function kindOf(ch: string): string {
  if (BIDI.test(ch)) return "a text-direction control";
  if (/\p{Cc}/u.test(ch)) return "a control character";
  if (/[\p{Zl}\p{Zp}]/u.test(ch)) return "a line or paragraph separator";
  if (/\p{Co}/u.test(ch)) return "a private-use character";
  if (/[\p{Cs}\p{Noncharacter_Code_Point}]/u.test(ch)) return "not a character";
  return "an invisible character";
}

/** Whether a character of the refused set is part of what is seen here (see the list above). */
function keptInContext(ch: string, before: string | undefined, after: string | undefined): boolean {
  if (EMOJI_PRESENTATION.has(ch)) return before !== undefined && EMOJI.test(before);
  if (ch !== ZWJ && ch !== ZWNJ) return false;
  if (before === undefined || after === undefined) return false;
  if (ch === ZWJ && EMOJI_JOINS_AFTER.test(before) && PICTOGRAPH.test(after)) return true;
  return LETTER.test(before) && !NO_JOINING.test(before) && LETTER.test(after) && !NO_JOINING.test(after);
}

/**
 * The first refused character of `value` (as sent), or null. Leading and trailing white space is
 * not looked at: it is trimmed before the value is stored.
 */
export function refusedCharacter(value: string, multiline = false): RefusedCharacter | null {
  const chars = [...value];
  const lead = [...value.slice(0, value.length - value.trimStart().length)].length;
  const tail = [...value.trimEnd()].length;
  for (let i = lead; i < tail; i++) {
    const ch = chars[i]!;
    if (!REFUSED.test(ch)) continue;
    if (multiline && LINE_BREAKS.has(ch)) continue;
    if (keptInContext(ch, chars[i - 1], chars[i + 1])) continue;
    const cp = ch.codePointAt(0)!;
    const hex = cp.toString(16).toUpperCase().padStart(4, "0");
    const name = unicodeName(cp) ?? "";
    return { character: `U+${hex}${name ? ` ${name}` : ""}`, position: i + 1, kind: kindOf(ch) };
  }
  return null;
}

/** "must not contain U+202E RIGHT-TO-LEFT OVERRIDE (a text-direction control), at character 6" */
export function textProblem(value: string, multiline = false): string | null {
  const found = refusedCharacter(value, multiline);
  return found ? `must not contain ${found.character} (${found.kind}), at character ${found.position}` : null;
}

/** The same rule as a zod refinement; put it before `.trim()` so positions count from what was sent. */
export const textRule =
  (multiline = false) =>
  (value: string, ctx: z.RefinementCtx) => {
    const problem = textProblem(value, multiline);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  };

/**
 * A user-supplied name, trimmed, as it will be stored: any visible Unicode (HTML included; every view
 * escapes it), nothing refused above, and not blank unless `allowEmpty`.
 */
export function displayText(field: string, value: string, allowEmpty = false): string {
  const text = value.trim();
  const problem = textProblem(value) ?? (!allowEmpty && text === "" ? "must not be blank" : null);
  if (problem) {
    throw Object.assign(new Errors.InvalidField(`field \`${field}\` ${problem}`), {
      errors: [{ field, message: problem }],
    });
  }
  return text;
}
