import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * prom-client's default process metrics, less the three gauges it names `*_total`
 * (`nodejs_active_handles_total`, `nodejs_active_requests_total`, `nodejs_active_resources_total`):
 * `_total` is the counter suffix, so Prometheus's own checker (promtool) refuses them and queries
 * would take them for counters. Nothing is lost: each is the sum over `type` of its per-type gauge
 * (`sum(nodejs_active_handles)`).
 */
export const MISNAMED_DEFAULT_GAUGES = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
}
