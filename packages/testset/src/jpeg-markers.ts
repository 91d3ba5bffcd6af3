/**
 * A JPEG's structure from its markers alone (ITU T.81 B.1), without decoding: enough to tell a
 * readable file from a truncated or mislabelled one, and to find where labels could hide (metadata
 * segments and bytes after the image) on a hidden test set.
 */

export interface JpegInfo {
  width: number;
  height: number;
  components: number;
  /** Segments that can carry free text or data a model could read, e.g. "APP1 (EXIF/XMP metadata)". */
  leaks: string[];
}

// Segments that may hold arbitrary text. APP0 (JFIF), APP2 (ICC profile) and APP14 (Adobe) are formats,
// not free text, and are routine in radiograph JPEGs.
const LEAKY: Record<number, string> = {
  0xe1: "APP1 (EXIF/XMP metadata)",
  0xed: "APP13 (IPTC/Photoshop metadata)",
  0xfe: "COM (comment)",
};

function isFrameHeader(marker: number): boolean {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** The frame size and any leaky segments, or a one-line reason the bytes are not a readable JPEG. */
export function readJpegMarkers(bytes: Uint8Array): JpegInfo | string {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8)
    return "not a JPEG (no start-of-image marker)";
  const leaks = new Set<string>();
  let frame: Omit<JpegInfo, "leaks"> | undefined;
  let i = 2;
  for (;;) {
    if (i + 4 > bytes.length) return "truncated JPEG (ends inside its headers)";
    if (bytes[i] !== 0xff) return `corrupt JPEG (no marker at byte ${i})`;
    const marker = bytes[i + 1] ?? 0;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // standalone markers carry no length
      continue;
    }
    if (marker === 0xd9) return "JPEG without image data (end-of-image before any scan)";
    const length = ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0);
    if (length < 2 || i + 2 + length > bytes.length)
      return "truncated JPEG (a header segment runs past the end)";
    const leak = LEAKY[marker];
    if (leak !== undefined) leaks.add(leak);
    if (isFrameHeader(marker)) {
      frame = {
        height: ((bytes[i + 5] ?? 0) << 8) | (bytes[i + 6] ?? 0),
        width: ((bytes[i + 7] ?? 0) << 8) | (bytes[i + 8] ?? 0),
        components: bytes[i + 9] ?? 0,
      };
    }
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    i += 2 + length;
  }
  if (frame === undefined) return "JPEG without a frame header";
  if (frame.width === 0 || frame.height === 0) return "JPEG with an empty frame";
  // The image must end with EOI; anything after it is invisible to viewers but not to a model.
  let end = bytes.length;
  while (end > i && bytes[end - 1] === 0) end--; // some writers pad with zeros
  if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) {
    const eoi = lastEoi(bytes, i);
    if (eoi < 0) return "truncated JPEG (no end-of-image marker)";
    leaks.add(`${end - eoi - 2} bytes after the end-of-image marker`);
  }
  return { ...frame, leaks: [...leaks] };
}

function lastEoi(bytes: Uint8Array, from: number): number {
  for (let k = bytes.length - 2; k >= from; k--) {
    if (bytes[k] === 0xff && bytes[k + 1] === 0xd9) return k;
  }
  return -1;
}
