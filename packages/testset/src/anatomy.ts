import { obsIndex, type Observation, type StudyTruth } from "./labels.ts";
import type { Random } from "./rng.ts";

/**
 * One patient's body and findings, shared by every view of the study. Lengths are fractions of the
 * frontal image (u across, v down); "side" −1 is the patient's right (image left), +1 the left.
 * Only latent findings leave a mark, so the images carry signal for the truth, not for the
 * (noisier) reader majority.
 */
export interface Anatomy {
  midline: number;
  thoraxHalf: number; // lateral reach of each lung from the midline at its widest
  lungTop: number; // apex
  base: [number, number]; // costophrenic angle height, per side (index 0: right, 1: left)
  dome: number; // hemidiaphragm dome height above the angle
  mediastinumHalf: number;
  ctr: number; // cardiothoracic ratio: heart width / thorax width
  heartHeight: number;
  lungDark: number; // how much darker aerated lung is than soft tissue
  hila: number; // prominence of the normal hilar vessels (confounds perihilar edema)
  softTissue: number;
  ribSpacing: number;
  portable: boolean; // AP supine film: magnified heart, lower inspiration, more devices
  effusion: { side: number; height: number }[]; // height: fluid depth as a fraction of lung height
  edema: number; // 0 = none, else perihilar haze strength
  opacities: Opacity[];
  plates: Plate[]; // plate-like (discoid) atelectasis
  pneumothorax: number; // side, or 0
  devices: Device[];
}

export interface Opacity {
  side: number;
  at: number; // lateral position in the lung, 0 medial → 1 lateral
  level: number; // vertical position in the lung, 0 apex → 1 base
  radius: number;
  density: number; // fraction of the lung/soft-tissue contrast it fills in
  lobes: number;
}

export interface Plate {
  side: number;
  at: number;
  level: number;
  length: number;
  thick: number;
  tilt: number;
  density: number;
}

export type Device =
  | { kind: "tube"; tip: number }
  | { kind: "line"; side: number; tip: number }
  | { kind: "lead"; u: number; v: number }
  | { kind: "pacer"; u: number; v: number };

function has(truth: StudyTruth, o: Observation): { present: boolean; severity: number } {
  return truth[obsIndex(o)] ?? { present: false, severity: 0 };
}

export function drawAnatomy(rng: Random, truth: StudyTruth): Anatomy {
  const devicesPresent = has(truth, "Support Devices").present;
  const portable = rng.chance(devicesPresent ? 0.6 : 0.15);
  const inspiration = rng.range(-0.035, 0.035) - (portable ? 0.03 : 0);
  const leftBase = rng.range(0.73, 0.79) + inspiration;
  const a: Anatomy = {
    midline: 0.5 + rng.normal(0, 0.012),
    thoraxHalf: rng.range(0.33, 0.4),
    lungTop: rng.range(0.11, 0.16),
    base: [leftBase - rng.range(0, 0.03), leftBase],
    dome: rng.range(0.04, 0.07),
    mediastinumHalf: rng.range(0.05, 0.065),
    ctr: rng.normal(0.45, 0.035) + (portable ? 0.03 : 0),
    heartHeight: rng.range(0.13, 0.16),
    lungDark: rng.range(65, 90),
    hila: rng.range(0.05, 0.22),
    softTissue: rng.range(125, 145),
    ribSpacing: rng.range(0.065, 0.08),
    portable,
    effusion: [],
    edema: 0,
    opacities: [],
    plates: [],
    pneumothorax: 0,
    devices: [],
  };

  const cardio = has(truth, "Cardiomegaly");
  if (cardio.present) a.ctr += 0.06 + 0.09 * cardio.severity;
  else if (has(truth, "Enlarged Cardiomediastinum").present) a.mediastinumHalf += rng.range(0.01, 0.025);

  const eff = has(truth, "Pleural Effusion");
  if (eff.present) {
    const depth = 0.04 + 0.16 * eff.severity;
    const sides = rng.chance(0.45) ? [-1, 1] : [rng.chance(0.5) ? -1 : 1];
    for (const side of sides) a.effusion.push({ side, height: depth * rng.range(0.7, 1.1) });
  }

  const edema = has(truth, "Edema");
  if (edema.present) a.edema = 0.15 + 0.4 * edema.severity;

  const cons = has(truth, "Consolidation");
  if (cons.present) {
    const count = rng.chance(0.25) ? 2 : 1;
    for (let i = 0; i < count; i++) a.opacities.push(opacity(rng, 0.55 + 0.35 * cons.severity, 0.05, 0.08));
  }
  const pneumonia = has(truth, "Pneumonia");
  if (pneumonia.present) a.opacities.push(opacity(rng, 0.3 + 0.3 * pneumonia.severity, 0.04, 0.07));
  // Lung Opacity without a named cause: faint patches that compete with the specific findings.
  const opac = has(truth, "Lung Opacity");
  if (opac.present && a.opacities.length === 0 && !edema.present) {
    a.opacities.push(opacity(rng, 0.2 + 0.25 * opac.severity, 0.03, 0.06));
  }
  const lesion = has(truth, "Lung Lesion");
  if (lesion.present) {
    a.opacities.push({ ...opacity(rng, 0.6, 0.012, 0.025), lobes: 1, level: rng.range(0.2, 0.7) });
  }

  const atel = has(truth, "Atelectasis");
  if (atel.present) {
    const side = rng.chance(0.5) ? -1 : 1;
    // Volume loss lifts the hemidiaphragm on the affected side.
    const i = side < 0 ? 0 : 1;
    a.base[i] = (a.base[i] ?? 0.75) - (0.01 + 0.03 * atel.severity);
    const plates = rng.chance(0.3) ? 2 : 1;
    for (let k = 0; k < plates; k++) {
      a.plates.push({
        side: k === 0 ? side : -side,
        at: rng.range(0.25, 0.7),
        level: rng.range(0.62, 0.85),
        length: rng.range(0.09, 0.16),
        thick: rng.range(0.01, 0.018),
        tilt: rng.range(-0.3, 0.3),
        density: 0.4 + 0.35 * atel.severity,
      });
    }
  }

  if (has(truth, "Pneumothorax").present) a.pneumothorax = rng.chance(0.5) ? -1 : 1;

  if (devicesPresent) {
    if (rng.chance(0.5)) a.devices.push({ kind: "tube", tip: rng.range(0.24, 0.32) });
    if (rng.chance(0.6) || a.devices.length === 0) {
      a.devices.push({ kind: "line", side: rng.chance(0.6) ? -1 : 1, tip: rng.range(0.3, 0.42) });
    }
    if (rng.chance(0.15))
      a.devices.push({ kind: "pacer", u: rng.range(0.62, 0.75), v: rng.range(0.18, 0.26) });
  }
  // ECG leads are common on any film.
  const leads = rng.chance(devicesPresent ? 0.7 : 0.2) ? rng.int(1, 4) : 0;
  for (let k = 0; k < leads; k++)
    a.devices.push({ kind: "lead", u: rng.range(0.15, 0.85), v: rng.range(0.1, 0.8) });
  return a;
}

function opacity(rng: Random, density: number, rMin: number, rMax: number): Opacity {
  return {
    side: rng.chance(0.5) ? -1 : 1,
    at: rng.range(0.25, 0.75),
    // Lower zones are involved more often than the apices.
    level: Math.sqrt(rng.range(0.04, 0.7)),
    radius: rng.range(rMin, rMax),
    density,
    lobes: rng.int(2, 4),
  };
}
