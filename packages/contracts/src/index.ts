export * from "./submission.ts";
export * from "./queues.ts";
export * from "./config.ts";
