import { describe, expect, it } from "vitest";
import { BundleCommandError, DEFAULT_BUNDLE_COMMAND, parseBundleCommand } from "../src/bundle-command.ts";

describe("a code bundle's command, split without a shell", () => {
  it("replaces {input} and {output}, also inside a word", () => {
    expect(parseBundleCommand(DEFAULT_BUNDLE_COMMAND)).toEqual([
      "python3",
      "src/predict.py",
      "test_image_paths.csv",
      "/out/predictions.csv",
    ]);
    expect(parseBundleCommand("python3 -m model --in={input} --out={output}")).toEqual([
      "python3",
      "-m",
      "model",
      "--in=test_image_paths.csv",
      "--out=/out/predictions.csv",
    ]);
  });

  it("follows the shell's quoting: single, double with escapes, backslash; quoted specials are literal", () => {
    expect(parseBundleCommand(`python3 'my model/run.py' "a \\"b\\" \\$c" d\\ e '|' "*"`)).toEqual([
      "python3",
      "my model/run.py",
      'a "b" $c',
      "d e",
      "|",
      "*",
    ]);
    expect(parseBundleCommand("  python3\tx.py   ")).toEqual(["python3", "x.py"]);
    expect(parseBundleCommand("python3 a#b ''")).toEqual(["python3", "a#b", ""]);
  });

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    ["python3 x.py > log", /">" at character 14 is shell syntax/],
    ["python3 x.py && rm -rf /", /"&" at character 14/],
    ["python3 x.py; true", /";" at character 13/],
    ["python3 $HOME/x.py", /"\$" at character 9/],
    ["python3 `id`", /"`" at character 9/],
    ['python3 "$HOME"', /"\$" at character 10 would be expanded/],
    ["python3 *.py", /"\*" at character 9/],
    ["python3 ~/x.py", /"~" at character 9/],
    ["python3 x.py # comment", /"#" at character 14/],
    ["python3 'x.py", /single quote at character 9 is never closed/],
    ['python3 "x.py', /double quote at character 9 is never closed/],
    ["python3 x.py \\", /lone backslash/],
    ["python3 {inptu}", /unknown placeholder \{inptu\}/],
    ["python3 x.py\u0007", /control character/],
    [Array.from({ length: 65 }, () => "a").join(" "), /more than 64 words/],
  ])("refuses %j, saying why", (command, reason) => {
    expect(() => parseBundleCommand(command)).toThrow(BundleCommandError);
    expect(() => parseBundleCommand(command)).toThrow(reason);
  });
});
