import { describe, expect, it } from "vitest";
import { localPath } from "../src/web/format.ts";

// Where a sign-in may send the browser next: only somewhere on this site, judged as a browser reads
// the Location header. Each refused form below is a known open-redirect bypass.

describe("localPath", () => {
  it.each([
    ["/team", "/team"],
    ["/submissions/0b7f?phase=smoke#log", "/submissions/0b7f?phase=smoke#log"],
    ["/admin", "/admin"],
    // Encoded, it stays encoded: a path on this site, never another host.
    ["/%09/evil.example", "/%09/evil.example"],
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["/%5Cevil.example", "/%5Cevil.example"],
    // Resolved as the browser would, and sent encoded (a header holds no raw non-ASCII).
    ["/a/../team", "/team"],
    ["/équipe", "/%C3%A9quipe"],
  ])("keeps %j as %j", (next, expected) => {
    expect(localPath(next, "FALLBACK")).toBe(expected);
  });

  it.each([
    ["protocol-relative", "//evil.example"],
    ["protocol-relative with a path", "//evil.example/login"],
    ["tab (browsers drop it)", "/\t/evil.example"],
    ["newline", "/\n/evil.example"],
    ["carriage return", "/\r/evil.example"],
    ["NUL", "/\u0000/evil.example"],
    ["backslash", "/\\evil.example"],
    ["slash backslash", "/\\/evil.example"],
    ["backslashes", "\\\\evil.example"],
    ["leading space", " //evil.example"],
    ["space inside", "/ /evil.example"],
    ["dot segments that make //", "/..//evil.example"],
    ["a dot segment that makes //", "/.//evil.example"],
    ["encoded dot segments", "/%2e%2e//evil.example"],
    ["absolute https URL", "https://evil.example/"],
    ["absolute http URL", "http://evil.example"],
    ["scheme-relative with userinfo", "//holdout@evil.example"],
    ["javascript: URL", "javascript:alert(document.cookie)"],
    ["data: URL", "data:text/html,<script>alert(1)</script>"],
    ["relative path", "evil.example"],
    ["zero-width space", "/\u200b/evil.example"],
    ["right-to-left override", "/\u202e/evil.example"],
    ["line separator", "/\u2028/evil.example"],
    ["empty", ""],
    ["very long", `/${"a".repeat(600)}`],
  ])("refuses %s", (_what, next) => {
    expect(localPath(next, "FALLBACK")).toBe("FALLBACK");
  });

  it("refuses anything that is not a string", () => {
    for (const next of [undefined, null, 42, ["/team"], { href: "/team" }]) {
      expect(localPath(next, "FALLBACK")).toBe("FALLBACK");
    }
  });
});
