import type { Anatomy } from "./anatomy.ts";
import { addBlob, addPolyline, develop, HalfRes, smoothstep, noiseField } from "./raster.ts";
import type { Random } from "./rng.ts";

// Lateral film, patient facing image left: u runs anterior (0) → posterior (1).
const LUNG_FRONT = 0.2;
const LUNG_BACK = 0.8;
const SPINE = 0.84;

/**
 * Renders a lateral chest film for the same patient as the frontal views. It repeats the signs a
 * lateral shows well (a bulky heart shadow, fluid in the posterior costophrenic sulcus) and shows
 * the others less clearly, as on real laterals.
 */
export function renderLateral(rng: Random, a: Anatomy, width: number, height: number): Uint8Array {
  const grid = new HalfRes(width, height);
  const texture = noiseField(rng, 14, grid.width, grid.height);
  const fine = noiseField(rng, 40, grid.width, grid.height);
  const shiftU = rng.normal(0, 0.012);
  const shiftV = rng.normal(0, 0.012);
  const base = (a.base[0] + a.base[1]) / 2;
  const lungHeight = base - a.lungTop;
  const heartRu = 0.19 * (a.ctr / 0.45);
  const heartRv = 0.17 * Math.sqrt(a.ctr / 0.45);
  const heartU = LUNG_FRONT + 0.75 * heartRu;
  const heartV = base - 0.45 * heartRv;
  const hilumU = 0.5;
  const hilumV = a.lungTop + 0.42 * lungHeight;
  const effusion = a.effusion.reduce((m, e) => Math.max(m, e.height), 0);

  for (let y = 0; y < grid.height; y++) {
    const v = (y + 0.5) / grid.height - shiftV;
    for (let x = 0; x < grid.width; x++) {
      const u = (x + 0.5) / grid.width - shiftU;
      const i = y * grid.width + x;
      const bu = Math.abs(u - 0.5) / (v < 0.12 ? 0.3 + v : 0.42);
      if (bu > 1.02) {
        grid.value[i] = 12;
        continue;
      }
      const body = 1 - smoothstep(0.95, 1.02, bu);
      let value = 12 + (a.softTissue - 12) * body;

      // The lung floor falls toward the back: the posterior sulcus is its lowest point.
      const p = Math.min(1, Math.max(0, (u - LUNG_FRONT) / (LUNG_BACK - LUNG_FRONT)));
      const floor = base - a.dome * 0.8 + 0.07 * p * p;
      const lu = (u - 0.5) / 0.31;
      const lv = (v - (a.lungTop + 0.55 * lungHeight)) / (0.6 * lungHeight);
      let inLung =
        (1 - smoothstep(0.92, 1.0, Math.sqrt(lu * lu + (lv < 0 ? lv * lv : 0)))) *
        (1 - smoothstep(floor - 0.01, floor + 0.004, v)) *
        smoothstep(a.lungTop - 0.01, a.lungTop + 0.02, v) *
        body;
      const abdomen = v > floor ? smoothstep(floor, floor + 0.03, v) * body : 0;
      const hu = (u - heartU) / heartRu;
      const hv = (v - heartV) / heartRv;
      const heart = 1 - smoothstep(0.85, 1.05, Math.sqrt(hu * hu + hv * hv));
      value += 40 * Math.max(abdomen, 0.75 * heart);
      inLung *= 1 - 0.5 * heart;

      // Spine (vertebral bodies with disc gaps) and sternum.
      const spine = (1 - smoothstep(0.05, 0.065, Math.abs(u - SPINE))) * body;
      value += spine * (20 + 8 * Math.max(0, Math.sin((2 * Math.PI * v) / 0.055)));
      value += 10 * (1 - smoothstep(0.006, 0.02, Math.abs(u - (0.13 + 0.1 * v)))) * smoothstep(0.15, 0.2, v);
      // Trachea, slanting back as it descends.
      const tu = u - (0.42 + 0.15 * v);
      if (v < hilumV)
        value -=
          20 *
          (1 - smoothstep(0.01, 0.018, Math.abs(tu))) *
          body *
          (1 - smoothstep(hilumV - 0.08, hilumV, v));

      const hd = (u - hilumU) / 0.12;
      const hvv = (v - hilumV) / 0.12;
      let fill = 1.2 * a.hila * Math.exp(-(hd * hd + hvv * hvv)) + 0.08 * texture[i]! + 0.06 * fine[i]!;
      if (effusion > 0 && p > 0.45) {
        const top = floor - effusion * lungHeight * (0.3 + 1.2 * Math.pow((p - 0.45) / 0.55, 1.5));
        fill += 0.9 * smoothstep(top - 0.008, top + 0.02, v);
      }
      if (a.edema > 0) fill += a.edema * (0.45 * Math.exp(-(hd * hd + hvv * hvv) / 2) + 0.1);
      grid.mask[i] = inLung;
      value -= 0.85 * a.lungDark * inLung * (1 - Math.min(1, Math.max(-0.3, fill)));
      grid.value[i] = value;
    }
  }

  const c = grid.enlarge();
  const lungMask = a.opacities.length + a.plates.length > 0 ? grid.enlargeMask() : undefined;
  // Lobar opacities project over the lung at the same height, at a front-to-back position we draw.
  for (const o of a.opacities) {
    addBlob(
      c,
      {
        u: rng.range(0.3, 0.72) + shiftU,
        v: a.lungTop + o.level * lungHeight + shiftV,
        ru: o.radius * rng.range(0.6, 1),
        rv: o.radius * rng.range(0.6, 1),
        amp: o.density * a.lungDark * 0.9,
      },
      lungMask,
    );
  }
  for (const pl of a.plates) {
    addBlob(
      c,
      {
        u: rng.range(0.35, 0.7) + shiftU,
        v: a.lungTop + pl.level * lungHeight + shiftV,
        ru: pl.length / 2,
        rv: pl.thick / 2,
        angle: pl.tilt,
        amp: pl.density * a.lungDark * 0.8,
      },
      lungMask,
    );
  }
  for (const dev of a.devices) {
    if (dev.kind === "tube")
      addPolyline(
        c,
        [
          [0.38 + shiftU, 0],
          [0.45 + shiftU, dev.tip + shiftV],
        ],
        0.012,
        45,
      );
    if (dev.kind === "line")
      addPolyline(
        c,
        [
          [0.5 + shiftU, 0.1],
          [0.45 + shiftU, dev.tip + shiftV],
        ],
        0.006,
        60,
      );
  }

  return develop(rng, c, {
    gain: rng.range(0.85, 1.15),
    offset: rng.range(-15, 10),
    gamma: rng.range(0.85, 1.2),
    noiseSd: rng.range(3, 8),
  });
}
