export { createDb, type Db } from "./client.ts";
export * from "./competition-repository.ts";
export * from "./team-repository.ts";
export * from "./account-repository.ts";
export * from "./quota-repository.ts";
export * from "./submission-repository.ts";
export * from "./leaderboard-repository.ts";
export { hashToken, generateToken } from "./tokens.ts";
export { hashPassword, verifyPassword, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH } from "./passwords.ts";
