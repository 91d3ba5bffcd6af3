import { describe, expect, it } from "vitest";
import { formatBytes } from "@holdout/contracts";

describe("formatBytes", () => {
  it("prints sizes in binary units with one decimal, bytes whole", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(640 * 1024)).toBe("640.0 KiB");
    expect(formatBytes(20 * 1024 ** 2)).toBe("20.0 MiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    // Past the largest unit the number grows instead.
    expect(formatBytes(2048 * 1024 ** 4)).toBe("2048.0 TiB");
  });
});
