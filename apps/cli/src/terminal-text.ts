/**
 * Text from the server (a model's log, team and model names, failure messages, problem details) is
 * someone else's: printed as it is, it could drive the user's terminal (escape sequences that move
 * the cursor, rewrite the title, set the clipboard, hide what follows) or reorder what is shown
 * (bidirectional overrides). Everything the CLI prints of it goes through `printable` first.
 */

// Escape sequences, removed whole so that no parameters are left behind as text:
//   CSI  ESC [ params intermediates final        e.g. colours, cursor moves, screen clears
//   OSC  ESC ] ... BEL or ESC \                   window title, hyperlinks, clipboard (OSC 52)
//   DCS, SOS, PM, APC: ESC P / X / ^ / _ ... ST  device control strings
//   the rest: ESC, intermediates, one final byte (charset switches, keypad modes, resets)
// A string control without its terminator loses only its introducer: the text after it stays
// visible rather than vanish to the end of the log.
const ESCAPE_SEQUENCE = new RegExp(
  [
    String.raw`\x1b\[[0-?]*[ -/]*[@-~]`,
    String.raw`\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)`,
    String.raw`\x1b[ -/]*[0-~]`,
    // The 8-bit forms of CSI, OSC and the string controls.
    String.raw`\x9b[0-?]*[ -/]*[@-~]`,
    String.raw`[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x9c|\x1b\\)`,
  ].join("|"),
  "g",
);

// C0 controls but tab and line feed (carriage return too: it lets a line overwrite itself), DEL, C1.
const CONTROL = new RegExp(String.raw`[\x00-\x08\x0b-\x1f\x7f-\x9f]`, "g");

// Bidirectional formatting: embeddings and overrides (LRE RLE PDF LRO RLO), isolates (LRI RLI FSI
// PDI), and the marks (ALM, LRM, RLM).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every escape sequence, control character (but \n and \t) and bidi control removed. */
export function printable(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, "").replace(BIDI, "");
}

/** `printable` for one line: line breaks and tabs become spaces too. */
export function printableLine(text: string): string {
  return printable(text).replace(/[\n\t]/g, " ");
}

/**
 * JSON for the terminal (`--json`): the same data, with the characters a terminal acts on that
 * JSON.stringify leaves raw (C1 controls, bidi controls, the line and paragraph separators) written
 * as \u escapes. A JSON reader gets exactly the server's values back.
 */
export function terminalJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
