import type { PlotData } from "../services/curves.ts";

// ROC and precision-recall plots as inline SVG, drawn on the server: the model's curve, each
// radiologist's operating point and the radiologists' majority vote, as in the CheXpert paper's
// figure. Each plot carries a <title> and <desc> (its text alternative); the page adds a table of
// the operating points. Colours come from the stylesheet through class names (no inline style, so
// the content security policy needs no 'unsafe-inline'); markers differ in shape as well as colour.

const SIZE = 300;
const LEFT = 46;
const TOP = 10;
const RIGHT = 10;
const BOTTOM = 40;
const W = SIZE - LEFT - RIGHT;
const H = SIZE - TOP - BOTTOM;
const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const px = (v: number) => (LEFT + clamp01(v) * W).toFixed(1);
const py = (v: number) => (TOP + (1 - clamp01(v)) * H).toFixed(1);
function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/** Reader i gets shape i: circle, square, triangle, then round again. */
function marker(shape: number, x: number, y: number, cls: string, label: string): string {
  const cx = px(x);
  const cy = py(y);
  const X = Number(cx);
  const Y = Number(cy);
  let body: string;
  switch (shape % 3) {
    case 0:
      body = `<circle cx="${cx}" cy="${cy}" r="5"/>`;
      break;
    case 1:
      body = `<rect x="${(X - 4.5).toFixed(1)}" y="${(Y - 4.5).toFixed(1)}" width="9" height="9"/>`;
      break;
    default:
      body = `<path d="M${X.toFixed(1)} ${(Y - 6).toFixed(1)}L${(X + 5.5).toFixed(1)} ${(Y + 4).toFixed(1)}L${(X - 5.5).toFixed(1)} ${(Y + 4).toFixed(1)}Z"/>`;
  }
  return `<g class="${cls}">${body}<title>${escapeXml(label)}</title></g>`;
}

function majorityMarker(x: number, y: number, label: string): string {
  const X = Number(px(x));
  const Y = Number(py(y));
  // A six-pointed asterisk, unlike any reader's marker.
  const d = [0, 60, 120]
    .map((deg) => {
      const r = (deg * Math.PI) / 180;
      const dx = 7 * Math.cos(r);
      const dy = 7 * Math.sin(r);
      return `M${(X - dx).toFixed(1)} ${(Y - dy).toFixed(1)}L${(X + dx).toFixed(1)} ${(Y + dy).toFixed(1)}`;
    })
    .join("");
  return `<g class="majority"><path d="${d}"/><title>${escapeXml(label)}</title></g>`;
}

function axes(xLabel: string, yLabel: string): string {
  const grid = TICKS.map(
    (t) =>
      `<line class="grid" x1="${px(t)}" y1="${py(0)}" x2="${px(t)}" y2="${py(1)}"/>` +
      `<line class="grid" x1="${px(0)}" y1="${py(t)}" x2="${px(1)}" y2="${py(t)}"/>` +
      `<text class="tick" x="${px(t)}" y="${(TOP + H + 14).toFixed(1)}" text-anchor="middle">${t.toFixed(1)}</text>` +
      `<text class="tick" x="${LEFT - 5}" y="${(Number(py(t)) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(1)}</text>`,
  ).join("");
  return (
    grid +
    `<rect class="frame" x="${LEFT}" y="${TOP}" width="${W}" height="${H}"/>` +
    `<text class="axis-label" x="${LEFT + W / 2}" y="${SIZE - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>` +
    `<text class="axis-label" transform="translate(12 ${TOP + H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`
  );
}

function polyline(points: [number, number][]): string {
  return points
    .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
    .map(([a, b]) => `${px(a)},${py(b)}`)
    .join(" ");
}

function svg(id: string, title: string, desc: string, body: string): string {
  return (
    `<svg class="plot" viewBox="0 0 ${SIZE} ${SIZE}" role="img" aria-labelledby="${id}-title ${id}-desc" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${id}-title">${escapeXml(title)}</title><desc id="${id}-desc">${escapeXml(desc)}</desc>${body}</svg>`
  );
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;

function readersSentence(d: PlotData): string {
  const n = d.readers.length;
  return n === 0
    ? "No radiologist reads are available for this task."
    : `${d.radsBelowCurve} of ${n} radiologists lie below the model's ROC curve.`;
}

export function rocSvg(d: PlotData, id: string): string {
  const readers = d.readers
    .map((r, i) =>
      marker(
        i,
        r.fpr,
        r.sensitivity,
        `reader reader-${i % 3}`,
        `Radiologist ${r.id}: sensitivity ${pct(r.sensitivity)}, specificity ${pct(1 - r.fpr)}`,
      ),
    )
    .join("");
  const majority = d.majority
    ? majorityMarker(
        d.majority.fpr,
        d.majority.sensitivity,
        `Radiologists' majority vote: sensitivity ${pct(d.majority.sensitivity)}, specificity ${pct(1 - d.majority.fpr)}`,
      )
    : "";
  const desc = `ROC curve of the model for ${d.task}: AUC ${d.auc.toFixed(3)}. ${readersSentence(d)}`;
  const body =
    axes("1 − specificity (false positive rate)", "Sensitivity (true positive rate)") +
    `<line class="chance" x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}"/>` +
    `<polyline class="curve" points="${polyline(d.roc)}"/>` +
    readers +
    majority;
  return svg(id, `ROC curve, ${d.task}`, desc, body);
}

export function prSvg(d: PlotData, id: string): string | null {
  if (!d.pr) return null;
  const readers = d.readers
    .map((r, i) =>
      r.precision === null
        ? ""
        : marker(
            i,
            r.sensitivity,
            r.precision,
            `reader reader-${i % 3}`,
            `Radiologist ${r.id}: recall ${pct(r.sensitivity)}, precision ${pct(r.precision)}`,
          ),
    )
    .join("");
  const m = d.majority;
  const majority =
    m && m.precision !== null
      ? majorityMarker(
          m.sensitivity,
          m.precision,
          `Radiologists' majority vote: recall ${pct(m.sensitivity)}, precision ${pct(m.precision)}`,
        )
      : "";
  const desc = `Precision-recall curve of the model for ${d.task}, with the radiologists' operating points.`;
  const body =
    axes("Recall (sensitivity)", "Precision") +
    `<polyline class="curve" points="${polyline(d.pr)}"/>` +
    readers +
    majority;
  return svg(id, `Precision-recall curve, ${d.task}`, desc, body);
}

/** The legend's markers, drawn as the plots draw them. */
export function legendMarkerSvg(kind: "curve" | "majority" | number): string {
  const inner =
    kind === "curve"
      ? `<line class="curve" x1="1" y1="8" x2="15" y2="8"/>`
      : kind === "majority"
        ? `<g class="majority"><path d="M1 8L15 8M4.5 2L11.5 14M4.5 14L11.5 2"/></g>`
        : `<g class="reader reader-${kind % 3}">${
            kind % 3 === 0
              ? `<circle cx="8" cy="8" r="5"/>`
              : kind % 3 === 1
                ? `<rect x="3.5" y="3.5" width="9" height="9"/>`
                : `<path d="M8 2L13.5 12L2.5 12Z"/>`
          }</g>`;
  return `<svg class="legend-mark" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">${inner}</svg>`;
}
