// The HTTP API's response shapes, declared once: the API serializes with them (unknown properties
// are dropped, so a private field can never leak through a public route) and documents them in its
// OpenAPI document; the pages and the CLI read their types. A subpath of its own
// (`@holdout/contracts/http`), so that processes that never speak HTTP do not load TypeBox.
export * from "./problem.ts";
export * from "./scores.ts";
export * from "./submission.ts";
export * from "./provenance.ts";
export * from "./leaderboard.ts";
export * from "./cli.ts";
export * from "./competitions.ts";
export * from "./competition-page.ts";
export * from "./notifications.ts";
export * from "./baselines.ts";
export * from "./layers.ts";
