import { randomBytes } from "node:crypto";
import { argon2id, argon2Verify } from "hash-wasm";

// argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane). hash-wasm runs it in
// WebAssembly: no native build, and about 60 ms per hash on one core. The parameters travel in the
// PHC string, so raising them later only affects new hashes.
const PARAMS = { memorySize: 19 * 1024, iterations: 2, parallelism: 1, hashLength: 32 } as const;

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

export async function hashPassword(password: string): Promise<string> {
  return argon2id({ ...PARAMS, password, salt: randomBytes(16), outputType: "encoded" });
}

/** Whether `password` matches the stored PHC string; a malformed hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  try {
    return await argon2Verify({ password, hash });
  } catch {
    return false;
  }
}

// Verified against when the email is unknown, so a login takes as long whether or not the
// account exists (no account enumeration by timing).
let dummyHash: Promise<string> | null = null;
export async function burnPasswordCheck(password: string): Promise<false> {
  dummyHash ??= hashPassword("holdout-timing-equalizer");
  await verifyPassword(password, await dummyHash);
  return false;
}
