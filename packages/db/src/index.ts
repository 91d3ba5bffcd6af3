export { createDb, type Db } from "./client.ts";
export * from "./competition-repository.ts";
export * from "./team-repository.ts";
export * from "./submission-repository.ts";
export * from "./leaderboard-repository.ts";
export { hashToken, generateToken } from "./tokens.ts";
