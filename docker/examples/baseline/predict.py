"""Baseline for Holdout's synthetic CheXpert-like test set: image features + logistic regression.

Usage: predict.py <input csv> <output csv>

The input CSV has a `Path` column of image paths relative to the working directory (see "The model's
container" in docs/architecture.md). The output has one row per study (`Study` = the image path without
`/view...jpg`) and a score per task; only the order of the scores matters to the metric. Each frontal
view gives classic image-analysis measurements (cardiothoracic ratio, costophrenic angle blunting,
perihilar haze, focal and plate-like opacities, lung brightness and area); weights.json (fitted by
train.py) turns them into one logit per task. Lateral views are skipped; a study's score is the max over
its frontal views. No network; it writes nothing but the output file, so a read-only working directory
is fine.
"""

import csv
import json
import math
import os
import re
import sys

import numpy as np
from PIL import Image, ImageFilter

TASKS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
SIZE = 128  # analysis grid (pixels), whatever the image size

# Learned by train.py (logistic regression per task on a synthetic training split): feature order,
# standardization and per-task weights. Kept beside this file so the bundle variant can share it.
WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.json")


def load(path):
    im = Image.open(path).convert("L").resize((SIZE, SIZE), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    lo, hi = np.percentile(a, [2, 98])
    return np.clip((a - lo) / max(hi - lo, 1.0), 0.0, 1.0)


def median5(a):
    im = Image.fromarray((a * 255).astype(np.uint8)).filter(ImageFilter.MedianFilter(5))
    return np.asarray(im, dtype=np.float32) / 255


def otsu(values):
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centers[int(np.argmax(between))])


def box(a, ry, rx):
    """Mean filter of size (2ry+1, 2rx+1) via an integral image (edges clamped)."""
    p = np.pad(a.astype(np.float64), ((ry + 1, ry), (rx + 1, rx)), mode="edge")
    s = p.cumsum(0).cumsum(1)  # float64: float32 sums lose the exact 0 and 1 that masks rely on
    h, w = a.shape
    k = 2 * ry + 1, 2 * rx + 1
    total = s[k[0]:k[0] + h, k[1]:k[1] + w] - s[:h, k[1]:k[1] + w] - s[k[0]:k[0] + h, :w] + s[:h, :w]
    return total / (k[0] * k[1])


def runs_of(row, min_len=1):
    """[(start, end)] of the runs of True in a 1-D boolean array at least `min_len` long."""
    d = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
    return [(a, b) for a, b in zip(np.where(d == 1)[0], np.where(d == -1)[0]) if b - a >= min_len]


def longest_run(row):
    """(start, end) of the longest run of True in a 1-D boolean array, or None."""
    found = runs_of(row)
    return max(found, key=lambda r: r[1] - r[0]) if found else None


def lung_sides(img):
    """Body midline, and per side (image-left, image-right) an aerated-lung mask and the lung's span.

    Lungs are the dark air inside the body: per row, the longest dark run on each side of the
    midline, over the block of consecutive rows around mid-chest where that run is substantial.
    The span also covers opacities inside the lung (from its first to last dark pixel per row).
    """
    # The body: per row, everything between the outermost tissue pixels (lungs can be as dark as
    # the background), eroded to skip the dark skin edge.
    tissue = img > 0.12
    body = np.zeros_like(tissue)
    for r in range(SIZE):
        cols = np.where(tissue[r])[0]
        if len(cols):
            body[r, cols[0]:cols[-1] + 1] = True
    body = box(body, 3, 3) > 0.99
    cols = np.where(body[int(SIZE * 0.4):int(SIZE * 0.7)].mean(0) > 0.5)[0]
    mid = int((cols[0] + cols[-1]) / 2) if len(cols) else SIZE // 2
    smooth = box(img, 1, 1)
    flat = box(img, 3, 3)  # ribs flattened, for choosing the threshold
    chest = slice(int(SIZE * 0.15), int(SIZE * 0.6))
    dark = (smooth < otsu(flat[chest][body[chest]])) & body
    # Closing: ribs, wires and electrodes must not split a lung into pieces.
    dark = box(box(dark, 1, 2) > 0.01, 1, 2) > 0.99
    masks, spans = [], []
    for side in (0, 1):
        half = dark.copy()
        if side == 0:
            half[:, mid:] = False
        else:
            half[:, :mid] = False
        runs = [longest_run(half[r]) for r in range(SIZE)]
        ok = [run is not None and run[1] - run[0] >= 3 for run in runs]
        mask = np.zeros_like(dark)
        seed = int(SIZE * 0.4)
        if not ok[seed]:
            masks.append(mask)
            spans.append(mask)
            continue
        r0, r1 = seed, seed
        while r0 > 0 and ok[r0 - 1]:
            r0 -= 1
        while r1 < SIZE - 1 and ok[r1 + 1]:
            r1 += 1
        span = np.zeros_like(dark)
        for r in range(r0, r1 + 1):
            mask[r, runs[r][0]:runs[r][1]] = True
            cols = np.where(half[r])[0]
            span[r, cols[0]:cols[-1] + 1] = True
        masks.append(mask)
        spans.append(span)
    return mid, masks, spans, dark


def extent(mask):
    rows = np.where(mask.sum(1) >= 2)[0]
    cols = np.where(mask.sum(0) >= 2)[0]
    if len(rows) < 8 or len(cols) < 4:
        return None
    return rows[0], rows[-1], cols[0], cols[-1]


def features(img):
    mid, lungs, spans, dark = lung_sides(img)
    boxes = [extent(m) for m in lungs]
    if any(b is None for b in boxes):
        return None
    top = min(b[0] for b in boxes)
    bottom = max(b[1] for b in boxes)
    height = max(bottom - top, 8)

    # Cardiothoracic ratio: the widest gap between the lungs' medial edges (the heart) in the lower
    # chest, over the widest span between their lateral edges. Lower still, the diaphragm domes
    # split the lungs and the gap stops being the heart, so the band ends above them.
    thorax, heart = 0, 0
    for r in range(top, bottom + 1):
        lr, rr = longest_run(lungs[0][r]), longest_run(lungs[1][r])
        if lr is None or rr is None:
            continue
        thorax = max(thorax, rr[1] - lr[0])
        if top + 0.5 * height <= r <= top + 0.82 * height:
            heart = max(heart, rr[0] - lr[1])
    ctr = heart / max(thorax, 1)

    smooth = box(img, 2, 2)
    blunting, haze, focal, plate, floors = [], [], [], [], []
    # Metal (pacemakers, electrodes, wires) is brighter than any tissue: leave it out, take a median
    # (thin wires vanish) and clip at soft-tissue brightness before looking for opacities.
    soft = float(np.percentile(img[~dark], 60)) if (~dark).any() else 1.0
    median = median5(img)
    metal = box(median > 0.97, 2, 2) > 0.01
    clean = np.minimum(median, soft)
    dog = []
    for span in spans:
        m = (span & ~metal).astype(np.float64)
        near = box(clean * m, 3, 3) / np.maximum(box(m, 3, 3), 1e-3)
        far = box(clean * m, 10, 10) / np.maximum(box(m, 10, 10), 1e-3)
        dog.append(near - far)
    line = box(np.minimum(img, soft), 0, 3)
    line = line - 0.5 * (np.roll(line, 3, axis=0) + np.roll(line, -3, axis=0))
    for side, (mask, (t, b, c0, c1)) in enumerate(zip(lungs, boxes)):
        width = max(c1 - c0, 4)
        # Lowest aerated row per column; lateral is c0 on the image-left lung, c1 on the right.
        lowest = np.array([np.max(np.where(mask[:, c])[0]) if mask[:, c].any() else t for c in range(c0, c1 + 1)])
        x = np.linspace(0, 1, len(lowest)) if side == 1 else np.linspace(1, 0, len(lowest))  # 0 medial
        lateral = lowest[x > 0.8].mean() if (x > 0.8).any() else b
        middle = lowest[(x > 0.35) & (x < 0.6)].mean() if ((x > 0.35) & (x < 0.6)).any() else b
        blunting.append((middle - lateral) / height)
        floors.append(np.percentile(lowest, 75))

        rows = slice(t + int(0.3 * height), t + int(0.6 * height))
        medial = slice(c1 - int(0.4 * width), c1) if side == 0 else slice(c0, c0 + int(0.4 * width))
        outer = slice(c0, c0 + int(0.3 * width)) if side == 0 else slice(c1 - int(0.3 * width), c1)
        upper = slice(t + int(0.15 * height), t + int(0.45 * height))
        haze.append(float(smooth[rows, medial].mean() - smooth[upper, outer].mean()))

        # Opacities inside the lung: a masked difference of local means (small window minus large),
        # which ignores broad haze and the bright structures around the lung.
        inside = (box(spans[side], 2, 2) > 0.99) & ~metal
        if inside.sum() < 20:
            continue
        focal.append(float(np.max(dog[side][inside])))
        lower = inside.copy()
        lower[: t + int(0.45 * height)] = False
        if lower.sum() > 10:
            plate.append(float(np.percentile(line[lower], 99)))
    if not focal or not plate:
        return None
    asym = abs(floors[0] - floors[1]) / height
    # Whole-lung statistics: edema brightens both lungs, fluid and collapse shrink the aerated area and
    # brighten the lower zones. The model learns how much each matters.
    aerated = lungs[0] | lungs[1]
    zones = np.zeros(SIZE)
    zones[top:bottom + 1] = np.linspace(0, 1, bottom + 1 - top)
    lower = aerated & (zones[:, None] > 0.66)
    upper = aerated & (zones[:, None] < 0.33)
    lung_mean = float(img[aerated].mean())
    lower_upper = float(img[lower].mean() - img[upper].mean()) if lower.any() and upper.any() else 0.0
    return {
        "ctr": ctr,
        "blunting": max(blunting),
        "blunting_min": min(blunting),
        "haze": float(np.mean(haze)),
        "haze_max": max(haze),
        "focal": max(focal),
        "focal_min": min(focal),
        "plate": max(plate),
        "plate_min": min(plate),
        "asymmetry": asym,
        "lung_mean": lung_mean,
        "lung_area": float(aerated.mean()),
        "lower_upper": lower_upper,
        "soft": soft,
    }


def load_model(path=WEIGHTS_FILE):
    with open(path) as fh:
        return json.load(fh)


def vector(f, model):
    x = np.array([f[name] for name in model["features"]], dtype=np.float64)
    return (x - np.array(model["mean"])) / np.array(model["sd"])


def task_scores(f, model):
    """Per task, the logit of the learned logistic regression on the standardized features."""
    x = vector(f, model)
    return {t: float(model["tasks"][t]["bias"] + x @ np.array(model["tasks"][t]["weights"])) for t in TASKS}


def study_of(path):
    m = re.match(r"^(.*)/view[^/]*\.jpe?g$", path, re.IGNORECASE)
    return m.group(1) if m else os.path.dirname(path)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: predict.py <input csv> <output csv>")
    src, dst = argv[1], argv[2]
    base = os.path.dirname(os.path.abspath(src))
    with open(src, newline="") as fh:
        paths = [row["Path"] for row in csv.DictReader(fh)]

    model = load_model()
    order, scores = [], {}
    for path in paths:
        study = study_of(path)
        if study not in scores:
            order.append(study)
            scores[study] = None
        if "lateral" in os.path.basename(path).lower():
            continue
        full = path if os.path.exists(path) else os.path.join(base, path)
        f = features(load(full))
        if f is None:
            continue
        s = task_scores(f, model)
        prev = scores[study]
        scores[study] = s if prev is None else {t: max(prev[t], s[t]) for t in TASKS}

    with open(dst, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Study"] + TASKS)
        for study in order:
            s = scores[study] or {t: 0.0 for t in TASKS}
            out.writerow([study] + ["%.6f" % (1 / (1 + math.exp(-max(-30.0, min(30.0, s[t]))))) for t in TASKS])


if __name__ == "__main__":
    main(sys.argv)
