import { describe, expect, it } from "vitest";
import { printable, printableLine, terminalJson } from "../src/terminal-text.ts";

const ESC = "\x1b";
/** What a terminal acts on: C0 but line feed and tab, DEL, C1, bidi controls. */
const ACTIVE = new RegExp(
  String.raw`[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]`,
);

describe("printable: server text made safe for a terminal", () => {
  it.each([
    ["colours", `${ESC}[31mred${ESC}[0m text`, "red text"],
    ["a screen clear and cursor home", `before${ESC}[2J${ESC}[Hafter`, "beforeafter"],
    ["a private-mode CSI (hide the cursor)", `a${ESC}[?25lb`, "ab"],
    ["a window title (OSC ended by BEL)", `${ESC}]0;pwned${"\x07"}log`, "log"],
    ["a clipboard write (OSC 52 ended by ST)", `${ESC}]52;c;ZXZpbA==${ESC}\\ok`, "ok"],
    [
      "a hyperlink that hides its target",
      `${ESC}]8;;http://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`,
      "click",
    ],
    ["a device control string", `${ESC}Pq#0;2;0;0;0${ESC}\\after`, "after"],
    ["a charset switch", `${ESC}(0lqk${ESC}(B`, "lqk"],
    ["a reset", `${ESC}cclean`, "clean"],
    ["an 8-bit CSI", "\x9b31mred", "red"],
    ["an 8-bit OSC ended by ST", "\x9d0;title\x9cshown", "shown"],
    ["a carriage return that would overwrite the line", "all good\rFAILED", "all goodFAILED"],
    ["a backspace, a bell, a NUL and DEL", "a\bb\x07c\x00d\x7fe", "abcde"],
    ["other C1 controls (NEL, IND)", "x\x85y\x84z", "xyz"],
    ["a right-to-left override (Trojan Source)", "access \u202eresu\u202c granted", "access resu granted"],
    ["isolates and marks", "\u2066a\u2069\u2067b\u2069\u200e\u200f\u061cc", "abc"],
  ])("removes %s", (_what, input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it("keeps line feeds, tabs and ordinary Unicode (accents, CJK, emoji, Arabic and Hebrew letters)", () => {
    const text = "Study\tAUC\npatient1\t0.91\nÉquipe 東京 🚀 فريق צוות\n";
    expect(printable(text)).toBe(text);
  });

  it("an unterminated string control loses its introducer, not the rest of the log", () => {
    expect(printable(`${ESC}]0;no terminator\nline 2\n`)).toBe("0;no terminator\nline 2\n");
    expect(printable("\x9dline\nnext")).toBe("line\nnext");
  });

  it("a lone ESC at the end, or before something that is no sequence, goes alone", () => {
    expect(printable(`end${ESC}`)).toBe("end");
    expect(printable(`${ESC}\u00e9t\u00e9`)).toBe("\u00e9t\u00e9");
  });

  it("leaves nothing a terminal would act on, whatever the input", () => {
    // Every code point below U+00A0 and every bidi control, in many random orders.
    const alphabet = [
      ...Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)),
      "\u061c",
      "\u200e",
      "\u200f",
      ..."\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
      "é",
    ];
    let seed = 17;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 500; i++) {
      const input = Array.from({ length: 40 }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
      const out = printable(input);
      expect(out).not.toMatch(ACTIVE);
      // Stripping is idempotent: what is left is text.
      expect(printable(out)).toBe(out);
    }
  });

  it("printableLine also folds line breaks and tabs into spaces (one-line fields: names, messages)", () => {
    expect(printableLine(`Team\n${ESC}[1mX\tY\r`)).toBe("Team X Y");
  });
});

describe("terminalJson: --json output", () => {
  it("escapes C1, bidi and line-separator characters, and parses back to the same value", () => {
    const value = { model: "a\u202eb", log: "\x9b31m\u2028x", name: "Équipe", esc: `${ESC}[2J` };
    const json = terminalJson(value, 2);
    expect(json).not.toMatch(new RegExp(String.raw`[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2028]`));
    expect(json).toContain("a\\u202eb");
    expect(json).toContain("\\u009b31m\\u2028x");
    expect(json).toContain("Équipe");
    expect(JSON.parse(json)).toEqual(value);
  });
});
