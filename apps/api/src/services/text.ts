import { Errors } from "../errors.ts";

// Control characters have no place in names shown to others, and PostgreSQL text cannot store NUL
// at all (it would surface as a 500). Line breaks and tabs are allowed only in free text.
const TAB = 9;
const LF = 10;
const CR = 13;

function hasControlChar(value: string, multiline: boolean): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 32 && c !== 127) continue;
    if (multiline && (c === TAB || c === LF || c === CR)) continue;
    return true;
  }
  return false;
}

export function controlCharProblem(value: string, multiline = false): string | null {
  return hasControlChar(value, multiline) ? "must not contain control characters" : null;
}

/**
 * A user-supplied name, trimmed, as it will be stored: any Unicode (HTML included; every view
 * escapes it), but no control characters, and not blank unless `allowEmpty`.
 */
export function displayText(field: string, value: string, allowEmpty = false): string {
  const text = value.trim();
  const problem = controlCharProblem(text) ?? (!allowEmpty && text === "" ? "must not be blank" : null);
  if (problem) {
    throw Object.assign(new Errors.InvalidField(`field \`${field}\` ${problem}`), {
      errors: [{ field, message: problem }],
    });
  }
  return text;
}
