import type { Anatomy } from "./anatomy.ts";
import { addBlob, addPolyline, type Canvas, develop, HalfRes, smoothstep, noiseField } from "./raster.ts";
import type { Random } from "./rng.ts";

/** Lung geometry on one side: reach from the midline at a height, and the hemidiaphragm. */
interface LungSide {
  top: number;
  base: number;
  height: number;
  lateral(v: number): number;
  diaphragm(w: number): number; // height of the lung floor at lateral position w (0 medial → 1 lateral)
}

function lungSide(a: Anatomy, index: 0 | 1): LungSide {
  const base = a.base[index];
  const height = base - a.lungTop;
  return {
    top: a.lungTop,
    base,
    height,
    // A dome at the apex widening to the full thorax at the base.
    lateral: (v) => {
      const t = Math.min(1, Math.max(0, (v - a.lungTop) / height));
      return a.thoraxHalf * Math.sqrt(1 - (1 - t) * (1 - t)) * (0.92 + 0.08 * t);
    },
    // The dome peaks mid-lung; the lateral costophrenic angle is the lowest point of the lung.
    diaphragm: (w) => {
      const x = 0.15 + 0.85 * Math.min(1, Math.max(0, w));
      return base - a.dome * 4 * x * (1 - x);
    },
  };
}

/** The lung's position (0 medial → 1 lateral, 0 apex → 1 base) mapped to image coordinates. */
export function lungPoint(a: Anatomy, side: number, at: number, level: number): { u: number; v: number } {
  const lung = lungSide(a, side < 0 ? 0 : 1);
  const v = lung.top + level * lung.height;
  const reach = a.mediastinumHalf + at * (lung.lateral(v) - a.mediastinumHalf);
  return { u: a.midline + side * reach, v };
}

/** Renders one PA/AP chest film of `width`×`height` pixels; `rng` draws this view's own variation. */
export function renderFrontal(rng: Random, a: Anatomy, width: number, height: number): Uint8Array {
  const sides = [lungSide(a, 0), lungSide(a, 1)] as const;
  const grid = new HalfRes(width, height);
  const texture = noiseField(rng, 14, grid.width, grid.height);
  const fine = noiseField(rng, 40, grid.width, grid.height);
  const exposure = noiseField(rng, 3, grid.width, grid.height);
  // Small positioning differences between views of the same patient.
  const shiftU = rng.normal(0, 0.008);
  const shiftV = rng.normal(0, 0.01);
  const heartHalf = a.ctr * a.thoraxHalf;
  const heartU = a.midline + 0.3 * heartHalf;
  // The heart sits on the diaphragm: its widest part shows just above the domes, its bottom merges
  // with the abdomen.
  const heartV = a.base[1] - 0.8 * a.heartHeight;
  const heartTop = heartV - a.heartHeight;
  const hilumV = a.lungTop + 0.42 * (a.base[1] - a.lungTop);
  const hilumD = a.mediastinumHalf + 0.05;
  const bubble = rng.chance(0.7);

  // Per-pixel work is kept to what depends on u; everything that depends only on the row is hoisted.
  for (let y = 0; y < grid.height; y++) {
    const v = (y + 0.5) / grid.height - shiftV;
    // Soft tissue: neck, shoulders, chest wall, abdomen.
    const bodyHalf =
      v < 0.04 ? 0.12 : v < 0.12 ? 0.12 + ((v - 0.04) / 0.08) * (a.thoraxHalf - 0.02) : a.thoraxHalf + 0.1;
    // The upper mediastinum is narrower than at the heart.
    const mHalf = a.mediastinumHalf * (0.7 + 0.3 * smoothstep(a.lungTop, heartTop, v));
    const reach = [sides[0].lateral(v), sides[1].lateral(v)] as const;
    const apex = smoothstep(a.lungTop - 0.005, a.lungTop + 0.015, v);
    const hv = (v - heartV) / a.heartHeight;
    const hvv = (v - hilumV) / 0.12;
    const hilarRow = Math.exp(-hvv * hvv);
    const edemaRow = a.edema > 0 ? a.edema * Math.exp(-(hvv * hvv) / 1.6) : 0;
    const trachea = v < a.lungTop + 0.18 ? 30 * smoothstep(0.02, 0.05, v) : 0;
    const mediastRow = smoothstep(0.02, 0.1, v);
    const bubbleV = (v - a.base[1] - 0.045) / 0.025;
    const bubbleRow = bubble && Math.abs(bubbleV) < 3 ? Math.exp(-bubbleV * bubbleV) : 0;

    for (let x = 0; x < grid.width; x++) {
      const u = (x + 0.5) / grid.width - shiftU;
      const i = y * grid.width + x;
      const d = u - a.midline;
      const ad = Math.abs(d);
      if (ad > bodyHalf + 0.015) {
        grid.value[i] = 12 * (1 + 0.05 * exposure[i]!);
        continue;
      }
      const sideIndex = d < 0 ? 0 : 1;
      const lung = sides[sideIndex];
      const body = 1 - smoothstep(bodyHalf - 0.015, bodyHalf + 0.015, ad);
      let value = 12 + (a.softTissue - 12) * body;

      // Aerated lung between the mediastinum/heart and the ribs, above the diaphragm.
      const lateral = reach[sideIndex];
      const w = (ad - mHalf) / Math.max(1e-6, lateral - mHalf);
      const floor = lung.diaphragm(w);
      let inLung =
        apex *
        (1 - smoothstep(floor - 0.01, floor + 0.004, v)) *
        (1 - smoothstep(lateral - 0.012, lateral + 0.004, ad)) *
        smoothstep(mHalf - 0.004, mHalf + 0.01, ad);
      const hu = (u - heartU) / heartHalf;
      const h2 = hu * hu + hv * hv;
      const heart = h2 > 1.1025 ? 0 : 1 - smoothstep(0.9, 1.05, Math.sqrt(h2));
      inLung *= (1 - heart) * body;

      // Below the lung floor the liver/spleen are as dense as the heart.
      const abdomen = v > floor && ad < lateral + 0.03 ? body * smoothstep(floor, floor + 0.03, v) : 0;
      if (bubbleRow > 0 && sideIndex === 1) {
        const bu = (d - 0.55 * a.thoraxHalf) / 0.05;
        value -= 40 * body * bubbleRow * Math.exp(-bu * bu);
      }
      // Mediastinum, heart, spine, trachea.
      const mediast = v < floor ? (1 - smoothstep(mHalf - 0.01, mHalf + 0.004, ad)) * body * mediastRow : 0;
      value += 42 * Math.max(heart, mediast, abdomen);
      if (ad < 0.032) value += 8 * (1 - smoothstep(0.022, 0.032, ad)) * body;
      if (trachea > 0 && ad < 0.014) value -= trachea * (1 - smoothstep(0.008, 0.014, ad));

      // Ribs: posterior arcs rising from the spine then falling laterally.
      const r = ad / a.thoraxHalf;
      if (r < 1.08 && v > a.lungTop - 0.04 && v < floor + 0.02) {
        const phase = (v - a.lungTop + 0.08 * r - 0.2 * r * r) / a.ribSpacing;
        const s = Math.sin(2 * Math.PI * phase);
        if (s > 0.3) value += 13 * ((s - 0.3) / 0.7) * (1 - smoothstep(0.95, 1.08, r));
      }

      if (inLung > 0) {
        // Lung darkness, with vascular markings denser toward the hila.
        const hd = (ad - hilumD) / 0.09;
        let fill = a.hila * hilarRow * Math.exp(-hd * hd) + 0.08 * texture[i]! + 0.06 * fine[i]!;
        for (const e of a.effusion) {
          if ((e.side < 0 ? 0 : 1) !== sideIndex) continue;
          // Meniscus: fluid climbs higher laterally, so the costophrenic angle fills first.
          const wl = Math.max(0, w);
          const top = floor - e.height * lung.height * (0.4 + 0.9 * wl * Math.sqrt(wl));
          fill += 0.95 * smoothstep(top - 0.008, top + 0.02, v);
        }
        if (a.edema > 0)
          fill += 0.6 * edemaRow * Math.exp(-(hd * hd) / 2.2) + a.edema * (0.12 + 0.12 * fine[i]!);
        if (a.pneumothorax !== 0 && (a.pneumothorax < 0 ? 0 : 1) === sideIndex && w > 0.75) {
          fill -= 0.25 * (1 - smoothstep(0.3, 0.5, (v - lung.top) / lung.height)) - 0.08 * texture[i]!;
        }
        grid.mask[i] = inLung;
        value -= a.lungDark * inLung * (1 - Math.min(1, Math.max(-0.3, fill)));
      }
      grid.value[i] = value * (1 + 0.05 * exposure[i]!);
    }
  }

  const c = grid.enlarge();
  const lungMask = a.opacities.length + a.plates.length > 0 ? grid.enlargeMask() : undefined;
  for (const o of a.opacities) {
    const centre = lungPoint(a, o.side, o.at, o.level);
    for (let k = 0; k < o.lobes; k++) {
      addBlob(
        c,
        {
          u: centre.u + shiftU + rng.normal(0, o.radius * 0.5),
          v: centre.v + shiftV + rng.normal(0, o.radius * 0.5),
          ru: o.radius * rng.range(0.5, 0.9),
          rv: o.radius * rng.range(0.5, 0.9),
          angle: rng.range(0, Math.PI),
          amp: (o.density * a.lungDark * 1.3) / Math.sqrt(o.lobes),
        },
        lungMask,
      );
    }
  }
  for (const p of a.plates) {
    const centre = lungPoint(a, p.side, p.at, p.level);
    addBlob(
      c,
      {
        u: centre.u + shiftU,
        v: centre.v + shiftV,
        ru: p.length / 2,
        rv: p.thick / 2,
        angle: p.tilt,
        amp: p.density * a.lungDark,
      },
      lungMask,
    );
  }
  drawDevices(c, a, shiftU, shiftV);
  if (rng.chance(0.6)) {
    // Side marker in an upper corner.
    const u = rng.chance(0.5) ? rng.range(0.04, 0.12) : rng.range(0.88, 0.96);
    addBlob(c, { u, v: rng.range(0.03, 0.08), ru: 0.012, rv: 0.018, amp: 150 });
  }

  return develop(rng, c, {
    gain: rng.range(0.85, 1.15),
    offset: rng.range(-12, 12),
    gamma: rng.range(0.85, 1.2),
    noiseSd: rng.range(3, 8),
  });
}

function drawDevices(c: Canvas, a: Anatomy, su: number, sv: number): void {
  const m = a.midline + su;
  for (const dev of a.devices) {
    switch (dev.kind) {
      case "tube":
        addPolyline(
          c,
          [
            [m - 0.004, 0],
            [m + 0.004, dev.tip + sv],
          ],
          0.014,
          45,
        );
        break;
      case "line":
        addPolyline(
          c,
          [
            [m + dev.side * 0.32, 0.1 + sv],
            [m + dev.side * 0.14, 0.17 + sv],
            [m + dev.side * 0.03, dev.tip + sv],
          ],
          0.006,
          70,
        );
        break;
      case "lead":
        addBlob(c, { u: dev.u + su, v: dev.v + sv, ru: 0.008, rv: 0.008, amp: 110 });
        break;
      case "pacer":
        addBlob(c, { u: dev.u + su, v: dev.v + sv, ru: 0.035, rv: 0.025, amp: 140 });
        addPolyline(
          c,
          [
            [dev.u + su, dev.v + sv],
            [m + 0.05, 0.3 + sv],
            [m + 0.06, a.base[1] - 0.05 + sv],
          ],
          0.005,
          80,
        );
        break;
    }
  }
}
