import { describe, expect, it } from "vitest";
import { displayText, refusedCharacter, textProblem } from "../src/services/text.ts";

// The characters a shown name may not hold: each refusal names the character and where it is.

describe("text rules for shown names", () => {
  it.each([
    ["Team\u202Eevil", "U+202E RIGHT-TO-LEFT OVERRIDE", 5, "a text-direction control"],
    ["a\u2067b", "U+2067 RIGHT-TO-LEFT ISOLATE", 2, "a text-direction control"],
    ["\u200Fname", "U+200F RIGHT-TO-LEFT MARK", 1, "a text-direction control"],
    ["x\u061Cy", "U+061C ARABIC LETTER MARK", 2, "a text-direction control"],
    ["Team\u200BA", "U+200B ZERO WIDTH SPACE", 5, "an invisible character"],
    ["Team\u200DA", "U+200D ZERO WIDTH JOINER", 5, "an invisible character"],
    ["Team\u200CA", "U+200C ZERO WIDTH NON-JOINER", 5, "an invisible character"],
    ["Te\u2060am", "U+2060 WORD JOINER", 3, "an invisible character"],
    ["Te\u00ADam", "U+00AD SOFT HYPHEN", 3, "an invisible character"],
    ["Team\uFEFFA", "U+FEFF ZERO WIDTH NO-BREAK SPACE", 5, "an invisible character"],
    ["A\u034FB", "U+034F COMBINING GRAPHEME JOINER", 2, "an invisible character"],
    ["\u3164x", "U+3164 HANGUL FILLER", 1, "an invisible character"],
    ["a\u2800b", "U+2800 BRAILLE PATTERN BLANK", 2, "an invisible character"],
    ["a\uFE00b", "U+FE00 VARIATION SELECTOR-1", 2, "an invisible character"],
    ["ok\u{E0041}", "U+E0041 TAG LATIN CAPITAL LETTER A", 3, "an invisible character"],
    ["a\u0000b", "U+0000 NULL", 2, "a control character"],
    ["a\u001Bb", "U+001B ESCAPE", 2, "a control character"],
    ["a\u0085b", "U+0085 NEXT LINE", 2, "a control character"],
    ["a\tb", "U+0009 CHARACTER TABULATION", 2, "a control character"],
    ["a\u2028b", "U+2028 LINE SEPARATOR", 2, "a line or paragraph separator"],
    ["a\uE000b", "U+E000 <private-use-E000>", 2, "a private-use character"],
    ["a\uD800b", "U+D800 <surrogate-D800>", 2, "not a character"],
    ["a\uFDD0b", "U+FDD0 <noncharacter-FDD0>", 2, "not a character"],
    // Positions count characters, not UTF-16 units, from the start of the value as sent.
    ["🫁🫁\u202E", "U+202E RIGHT-TO-LEFT OVERRIDE", 3, "a text-direction control"],
    ["  a\u200Bb", "U+200B ZERO WIDTH SPACE", 4, "an invisible character"],
  ])("refuses %j: %s at %i", (value, character, position, kind) => {
    expect(refusedCharacter(value)).toEqual({ character, position, kind });
  });

  it.each([
    ["plain", "Stanford ML Group"],
    ["HTML and SQL-looking text", `<b>x</b> Robert'); DROP TABLE "Team";--`],
    ["accents and CJK", "Équipe 模型 チーム"],
    ["an emoji", "🫁 Lung Lab"],
    ["an emoji ZWJ sequence", "👩‍🔬 Scientists, 👨‍👩‍👧 family"],
    ["emoji presentation", "❤️ and ☺︎"],
    ["a skin tone", "👍🏽 team"],
    ["a keycap", "1️⃣ first"],
    ["Persian with ZWNJ", "می‌خواهم"],
    ["Devanagari with ZWJ", "क्‍ष"],
    ["a formula-looking name", "=SUM(A1:A9)"],
    ["wide spaces", "Team\u3000A"],
  ])("keeps %s", (_what, value) => {
    expect(refusedCharacter(value)).toBeNull();
  });

  it("keeps line breaks and tabs in multi-line text only", () => {
    expect(textProblem("line 1\r\nline 2\tend", true)).toBeNull();
    expect(textProblem("line 1\nline 2")).toMatch(/U\+000A LINE FEED/);
    expect(textProblem("a\u202Eb", true)).toMatch(/RIGHT-TO-LEFT OVERRIDE/);
  });

  it("does not look at white space that trimming removes", () => {
    expect(refusedCharacter("\n name \n")).toBeNull();
    expect(displayText("name", "\uFEFF name \u2028")).toBe("name");
  });

  it("says it all in the problem: field, character, kind and position", () => {
    let thrown: unknown;
    try {
      displayText("name", "Team\u202EA");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({
      code: "HOLDOUT_ERR_INVALID_FIELD",
      message:
        "field `name` must not contain U+202E RIGHT-TO-LEFT OVERRIDE (a text-direction control), at character 5",
      errors: [{ field: "name", message: expect.stringMatching(/^must not contain U\+202E/) as unknown }],
    });
  });
});
