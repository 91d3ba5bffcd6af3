// The processes' operations side: their ops listener and process metrics. A subpath of its own
// (`@holdout/contracts/ops`), so that the CLI, which imports the package's main entry, does not
// load prom-client at every start.
export * from "./ops-server.ts";
export * from "./process-metrics.ts";
