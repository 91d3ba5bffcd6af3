import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { encodeGrayJpeg } from "../src/index.ts";
import { jpegFrame } from "./helpers.ts";

function pattern(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      px[y * width + x] = Math.round(
        128 + 90 * Math.sin(x / 9) * Math.cos(y / 13) + ((x * 7 + y * 3) % 11) - 5,
      );
    }
  }
  return px;
}

describe("encodeGrayJpeg", () => {
  it.each([
    [1, 1],
    [8, 8],
    [17, 5],
    [261, 320],
  ])("writes a %ix%i single-component JPEG that decodes close to the input", (width, height) => {
    const px = pattern(width, height);
    const bytes = encodeGrayJpeg(px, width, height, 90);
    expect(jpegFrame(bytes)).toEqual({ width, height, components: 1 });
    const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    let error = 0;
    for (let i = 0; i < px.length; i++) error += Math.abs(decoded.data[i * 3]! - px[i]!);
    expect(error / px.length).toBeLessThan(3);
  });

  it("is deterministic and smaller at lower quality", () => {
    const px = pattern(64, 48);
    expect(encodeGrayJpeg(px, 64, 48, 90)).toEqual(encodeGrayJpeg(px, 64, 48, 90));
    expect(encodeGrayJpeg(px, 64, 48, 50).length).toBeLessThan(encodeGrayJpeg(px, 64, 48, 95).length);
  });

  it("rejects pixel buffers that do not match the dimensions", () => {
    expect(() => encodeGrayJpeg(new Uint8Array(10), 4, 4)).toThrow(/bad dimensions/);
  });
});
