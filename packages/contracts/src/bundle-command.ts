/**
 * A code bundle's command (docs/architecture.md, "The model's container"), e.g. `python3 src/predict.py {input} {output}`, turned into an
 * argv without any shell: the sandbox starts the program directly. Quoting follows the POSIX shell's
 * rules for words ('single', "double" with \" \\ \$ \` escapes, and \x outside quotes), and nothing
 * else of the shell exists: a character that would make a shell pipe, redirect, expand or glob is
 * refused unless quoted, so a command never means something other than what it runs. `{input}` and
 * `{output}` are replaced wherever they appear, also inside a word (`--in={input}`).
 */
export const DEFAULT_BUNDLE_COMMAND = "python3 src/predict.py {input} {output}";

export const BUNDLE_INPUT = "test_image_paths.csv";
export const BUNDLE_OUTPUT = "/out/predictions.csv";

const MAX_WORDS = 64;
/** Unquoted, these would mean something to a shell that argv cannot express. */
const SHELL_ONLY = new Set([..."|&;<>()$`*?[]"]);
/** Special only at the start of a word (a comment, the home directory). */
const SHELL_ONLY_FIRST = new Set(["#", "~"]);
const PLACEHOLDER = /\{([^{}]*)\}/g;

export class BundleCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleCommandError";
  }
}

/** Splits the command into words; throws BundleCommandError saying what is wrong and where. */
export function splitBundleCommand(command: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const at = (i: number) => `at character ${i + 1}`;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === " " || c === "\t") {
      if (word !== null) words.push(word);
      word = null;
      continue;
    }
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new BundleCommandError(`the single quote ${at(i)} is never closed`);
      word = (word ?? "") + command.slice(i + 1, end);
      i = end;
      continue;
    }
    if (c === '"') {
      let text = "";
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        const d = command[j]!;
        if (d === "\\" && j + 1 < command.length && '"\\$`'.includes(command[j + 1]!)) {
          text += command[++j];
        } else if (d === "$" || d === "`") {
          throw new BundleCommandError(
            `${JSON.stringify(d)} ${at(j)} would be expanded by a shell; there is none: escape it as \\${d}`,
          );
        } else text += d;
      }
      if (j >= command.length) throw new BundleCommandError(`the double quote ${at(i)} is never closed`);
      word = (word ?? "") + text;
      i = j;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= command.length) throw new BundleCommandError("the command ends with a lone backslash");
      word = (word ?? "") + command[++i];
      continue;
    }
    if (SHELL_ONLY.has(c) || (word === null && SHELL_ONLY_FIRST.has(c))) {
      throw new BundleCommandError(
        `${JSON.stringify(c)} ${at(i)} is shell syntax, but the command runs without a shell ` +
          "(no pipes, redirections, variables or wildcards); quote it if it is meant literally",
      );
    }
    if (c < " " || c === "\u007f") throw new BundleCommandError(`a control character ${at(i)}`);
    word = (word ?? "") + c;
  }
  if (word !== null) words.push(word);
  if (words.length === 0) throw new BundleCommandError("the command is empty");
  if (words.length > MAX_WORDS) throw new BundleCommandError(`the command has more than ${MAX_WORDS} words`);
  return words;
}

/**
 * The argv the sandbox runs: the words with `{input}` and `{output}` replaced. Any other `{…}` is
 * refused, so a typo such as `{ouput}` is caught at upload rather than passed to the model.
 */
export function parseBundleCommand(command: string): string[] {
  return splitBundleCommand(command).map((word) =>
    word.replace(PLACEHOLDER, (whole, name: string) => {
      if (name === "input") return BUNDLE_INPUT;
      if (name === "output") return BUNDLE_OUTPUT;
      throw new BundleCommandError(
        `unknown placeholder ${whole}: only {input} (${BUNDLE_INPUT}) and {output} (${BUNDLE_OUTPUT}) exist`,
      );
    }),
  );
}
