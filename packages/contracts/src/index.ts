export * from "./submission.ts";
export * from "./failures.ts";
export * from "./sizes.ts";
export * from "./queues.ts";
export * from "./config.ts";
export * from "./bundle-command.ts";
export * from "./readiness.ts";
export * from "./problems.ts";
