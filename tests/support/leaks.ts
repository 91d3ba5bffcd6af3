// What a served view could carry of the hidden set, checked the way an attacker would read it. Used
// by the boundary tests on every view a team or the public can fetch.

/** The fewest decimals that print `x` exactly (0.931 → 3; 0.93125 → 5). */
export function decimalsOf(x: number): number {
  for (let d = 0; d <= 20; d++) if (Number(x.toFixed(d)) === x) return d;
  return Infinity;
}

/** Every number in a JSON value, with its path. */
export function numbersIn(value: unknown, path = "$"): { path: string; value: number }[] {
  if (typeof value === "number") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => numbersIn(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => numbersIn(v, `${path}.${k}`));
  }
  return [];
}

/** Arrays of numeric pairs longer than an interval: the shape of ROC vertices or PR points. */
export function polylinesIn(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) {
    const pairs =
      value.length > 2 && value.every((v) => Array.isArray(v) && v.every((x) => typeof x === "number"));
    return [...(pairs ? [path] : []), ...value.flatMap((v, i) => polylinesIn(v, `${path}[${i}]`))];
  }
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => polylinesIn(v, `${path}.${k}`));
  }
  return [];
}

/** Decimal numbers in a text (HTML, CSV) printed with more than `max` decimals. */
export function longDecimalsIn(text: string, max: number): string[] {
  return [...text.matchAll(new RegExp(`(?<![\\w.])\\d+\\.\\d{${max + 1},}(?![\\w])`, "g"))].map((m) => m[0]);
}

/**
 * The attack of the issue: a model that scores every study distinctly (its rank in sorted study
 * order), then the task's ROC vertices. Between two vertices of distinct scores the path is purely
 * vertical (positives) or horizontal (negatives), so the segment lengths, in units of 1/P and 1/N,
 * spell out every label in descending-score order. Returns them, or null if the vertices are not
 * such a path for any P.
 */
export function labelsFromRoc(roc: readonly (readonly number[])[], n: number): number[] | null {
  for (let p = 1; p < n; p++) {
    const negatives = n - p;
    const labels: number[] = [];
    let ok = true;
    for (let i = 1; i < roc.length && ok; i++) {
      const dx = (roc[i]![0]! - roc[i - 1]![0]!) * negatives;
      const dy = (roc[i]![1]! - roc[i - 1]![1]!) * p;
      const kx = Math.round(dx);
      const ky = Math.round(dy);
      if (Math.abs(dx - kx) > 1e-6 || Math.abs(dy - ky) > 1e-6 || (kx > 0 && ky > 0)) ok = false;
      for (let k = 0; k < ky; k++) labels.push(1);
      for (let k = 0; k < kx; k++) labels.push(0);
    }
    if (ok && labels.length === n) return labels;
  }
  return null;
}

/** Reads a whole server-sent event stream (the submission is final: it ends by itself). */
export async function readEventStream(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { headers: { ...headers, accept: "text/event-stream" } });
  const text = await res.text();
  const events = text
    .split("\n\n")
    .filter((block) => block.includes("data:"))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "null";
      return { event, data: JSON.parse(data) as unknown };
    });
  return { status: res.status, text, events };
}
