import { createHash, randomBytes } from "node:crypto";

const TOKEN_PREFIX = "hld_";

/** A new API token: 256 random bits, shown to the team once. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/**
 * Tokens are stored as SHA-256 only. They carry 256 bits of entropy, so a memory-hard KDF (needed
 * for passwords) would add cost without adding safety, and lookups stay a single index probe.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The part of a token that may be shown later to tell tokens apart. */
export function tokenDisplayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}
