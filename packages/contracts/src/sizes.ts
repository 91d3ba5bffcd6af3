/**
 * "1.5 GiB", "640.0 KiB", "12 B": sizes in binary (IEC) units, one decimal, wherever Holdout prints
 * one (the pages, the CLI's progress), since its limits are set in KiB, MiB and GiB too.
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
