import { describe, expect, it } from "vitest";
import {
  ArchiveRejection,
  TarHeaderCheck,
  TreeCheck,
  type EntryHead,
  type HeaderPolicy,
} from "../src/index.ts";
import { END, file, gnuLong, header, pax, tar } from "./raw-tar.ts";

const outer: HeaderPolicy = { where: "the archive", kind: "outer" };
const layer: HeaderPolicy = { where: "layer", kind: "layer" };

/** The entries the check reads from `bytes`, fed in chunks of `chunk` bytes (headers split across pushes). */
function read(bytes: Buffer, policy: HeaderPolicy, chunk = 97): EntryHead[] {
  const entries: EntryHead[] = [];
  const check = new TarHeaderCheck(policy, (e) => entries.push(e));
  for (let i = 0; i < bytes.length; i += chunk) check.push(bytes.subarray(i, i + chunk));
  check.end();
  return entries;
}

function refusal(run: () => unknown): { code: string; sentence: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof ArchiveRejection) return { code: err.code, sentence: err.sentence };
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("TarHeaderCheck", () => {
  it("reads names, sizes, types and links, whatever the chunking", () => {
    const bytes = tar(
      file("a.txt", "hello"),
      header({ name: "dir/", flag: "5" }),
      header({ name: "dir/link", flag: "2", linkname: "../a.txt" }),
      file("name.txt", "x", { prefix: "some/prefix" }),
    );
    for (const chunk of [1, 100, 512, 4096]) {
      expect(read(bytes, outer, chunk).map((e) => [e.name, e.type, e.size, e.linkname])).toEqual([
        ["a.txt", "file", 5, ""],
        ["dir/", "directory", 0, ""],
        ["dir/link", "symlink", 0, "../a.txt"],
        ["some/prefix/name.txt", "file", 1, ""],
      ]);
    }
  });

  it("applies a PAX path and a GNU long name in a layer, one form at a time", () => {
    const long = `${"d/".repeat(80)}file`;
    const bytes = tar(
      pax([["path", long]]),
      file("short", "1"),
      gnuLong("L", `${long}2`),
      file("short2", "2"),
    );
    expect(read(bytes, layer).map((e) => e.name)).toEqual([long, `${long}2`]);
  });

  it.each<[string, Buffer, HeaderPolicy, string, RegExp]>([
    [
      "a PAX GNU.sparse.name record (Go renames the entry, tar-stream does not)",
      tar(pax([["GNU.sparse.name", "manifest.json"]]), file("harmless.txt", "x")),
      layer,
      "gnu_sparse",
      /"GNU\.sparse\.name" at byte 0: sparse files are not accepted/,
    ],
    [
      "an unknown PAX key",
      tar(pax([["LIBARCHIVE.creationtime", "1"]]), file("a", "x")),
      layer,
      "pax_key",
      /"LIBARCHIVE\.creationtime" at byte 0 is not one we accept/,
    ],
    [
      "a PAX path in a docker save archive",
      tar(pax([["path", "b"]]), file("a", "x")),
      outer,
      "pax_key",
      /"path"/,
    ],
    [
      "a PAX global header",
      tar(Buffer.concat([header({ name: "g", flag: "g", size: 0 })]), file("a")),
      layer,
      "pax_global",
      /PAX global header at byte 0/,
    ],
    [
      "a GNU sparse entry",
      tar(header({ name: "s", flag: "S", gnu: true })),
      layer,
      "gnu_sparse",
      /GNU sparse entry/,
    ],
    [
      "a GNU long name in a docker save archive",
      tar(gnuLong("L", "manifest.json"), file("a")),
      outer,
      "gnu_long_name",
      /GNU long-name header at byte 0/,
    ],
    [
      "a GNU long name and a PAX path for one entry",
      tar(gnuLong("L", "one"), pax([["path", "two"]]), file("a")),
      layer,
      "ambiguous_header",
      /both a PAX path and a GNU long name/,
    ],
    [
      "two PAX headers for one entry",
      tar(pax([["mtime", "1"]]), pax([["path", "b"]]), file("a")),
      layer,
      "ambiguous_header",
      /two extended headers of the same kind in a row at byte 1024/,
    ],
    [
      "a key set twice in one PAX header",
      tar(
        pax([
          ["path", "a"],
          ["path", "b"],
        ]),
        file("c"),
      ),
      layer,
      "ambiguous_header",
      /sets path twice/,
    ],
    [
      "an empty PAX path",
      tar(pax([["path", ""]]), file("c")),
      layer,
      "ambiguous_header",
      /sets an empty path/,
    ],
    [
      "entries after the end-of-archive marker",
      Buffer.concat([file("a"), END, file("hidden")]),
      outer,
      "ambiguous_header",
      /data follows the end-of-archive marker at byte 1536/,
    ],
    [
      "a regular file named like a directory",
      tar(file("dir/", "x")),
      outer,
      "ambiguous_header",
      /file entry "dir\/" at byte 0 is named like a directory/,
    ],
    [
      "a directory with a body",
      tar(header({ name: "d/", flag: "5", size: 512 }), Buffer.alloc(512)),
      outer,
      "ambiguous_header",
      /directory entry "d\/" at byte 0 claims a body/,
    ],
    [
      "a name that is not UTF-8",
      tar(header({ name: "caf\xe9", nameEncoding: "latin1" })),
      outer,
      "bad_header",
      /a name in the header at byte 0 is not UTF-8/,
    ],
    ["a contiguous-file entry", tar(header({ name: "c", flag: "7" })), layer, "entry_type", /type "7"/],
    [
      "a stream cut inside an entry",
      file("a", "x".repeat(600)).subarray(0, 700),
      outer,
      "bad_header",
      /cut off at byte 700/,
    ],
    ["not a tar at all", Buffer.from("hello world".repeat(100)), outer, "not_tar", /not a tar archive/],
  ])("refuses %s", (_what, bytes, policy, code, sentence) => {
    const r = refusal(() => read(bytes, policy));
    expect(r.code).toBe(code);
    expect(r.sentence).toMatch(sentence);
  });

  it("refuses a PAX record whose length lies", () => {
    const records = Buffer.from("99 path=a\n");
    const bytes = tar(
      header({ name: "p", flag: "x", size: records.length }),
      records,
      Buffer.alloc(512 - records.length),
      file("a"),
    );
    expect(refusal(() => read(bytes, layer))).toMatchObject({
      code: "bad_header",
      sentence: /malformed record/,
    });
  });
});

describe("TreeCheck", () => {
  const check = (bytes: Buffer): void => {
    const tree = new TreeCheck('layer "l"');
    tree.push(bytes);
    tree.end();
  };

  it("accepts an ordinary layer: links inside it, absolute symlink targets, the standard /dev nodes", () => {
    expect(() =>
      check(
        tar(
          header({ name: "usr/", flag: "5" }),
          file("usr/bin/python3.11", "elf"),
          header({ name: "usr/bin/python3", flag: "2", linkname: "python3.11" }),
          header({ name: "etc/localtime", flag: "2", linkname: "/usr/share/zoneinfo/UTC" }),
          header({ name: "usr/bin/py", flag: "1", linkname: "usr/bin/python3.11" }),
          header({ name: "./dev/null", flag: "3", devmajor: 1, devminor: 3 }),
        ),
      ),
    ).not.toThrow();
  });

  it.each<[string, Buffer, string, RegExp]>([
    [
      "a write through a symlink the layer created",
      tar(header({ name: "etc", flag: "2", linkname: "/host-etc" }), file("etc/passwd", "root::0:0")),
      "write_through_symlink",
      /"etc\/passwd" would be written through the symlink "etc" created earlier in the same layer/,
    ],
    [
      "a hard link through a symlink the layer created",
      tar(
        header({ name: "d", flag: "2", linkname: "/" }),
        header({ name: "x", flag: "1", linkname: "d/etc/shadow" }),
      ),
      "write_through_symlink",
      /"d\/etc\/shadow" would be written through the symlink "d"/,
    ],
    [
      "a symlink climbing out of the tree",
      tar(header({ name: "a/b", flag: "2", linkname: "../../../etc" })),
      "link_escape",
      /points outside the image \(to "\.\.\/\.\.\/\.\.\/etc"\)/,
    ],
    [
      "a hard link to an absolute path",
      tar(header({ name: "x", flag: "1", linkname: "/etc/shadow" })),
      "link_escape",
      /hard link "x" points outside the image/,
    ],
    ["an absolute name", tar(file("/etc/passwd", "x")), "unsafe_path", /is absolute/],
    ["a climbing name", tar(file("a/../../b", "x")), "unsafe_path", /has a "\.\." component/],
    [
      "a block device",
      tar(header({ name: "dev/sda", flag: "4", devmajor: 8, devminor: 0 })),
      "entry_type",
      /"dev\/sda" is a block-device/,
    ],
    [
      "a char device outside the standard set",
      tar(header({ name: "dev/null", flag: "3", devmajor: 1, devminor: 1 })),
      "entry_type",
      /char-device/,
    ],
    ["a fifo", tar(header({ name: "tmp/f", flag: "6" })), "entry_type", /fifo/],
  ])("refuses %s", (_what, bytes, code, sentence) => {
    const r = refusal(() => check(bytes));
    expect(r.code).toBe(code);
    expect(r.sentence).toMatch(sentence);
  });
});
