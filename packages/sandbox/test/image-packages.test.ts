import { describe, expect, it } from "vitest";
import { parsePackageList } from "../src/image-packages.ts";

describe("a runtime image's package listing", () => {
  it("keeps Debian packages and Python distributions, sorted, each once", () => {
    const text = [
      "deb\tpython3\t3.11.2-1+b1",
      "python\tnumpy\t1.24.2",
      "deb\tlibc6\t2.36-9+deb12u9",
      "python\tPillow\t9.4.0",
      "python\tnumpy\t1.24.2",
      "",
    ].join("\r\n");
    expect(parsePackageList(text)).toEqual([
      { source: "deb", name: "libc6", version: "2.36-9+deb12u9" },
      { source: "deb", name: "python3", version: "3.11.2-1+b1" },
      { source: "python", name: "numpy", version: "1.24.2" },
      { source: "python", name: "Pillow", version: "9.4.0" },
    ]);
  });

  it("skips lines of no known shape (a warning the image printed, a stray tab)", () => {
    expect(parsePackageList("WARNING: something\npip\tx\t1\ndeb\ta\tb\tc\ndeb\tok\t1.0\n")).toEqual([
      { source: "deb", name: "ok", version: "1.0" },
    ]);
  });
});
