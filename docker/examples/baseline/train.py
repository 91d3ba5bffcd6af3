"""Fits the baseline's weights.json: one L2-regularized logistic regression per task on predict.py's features.

Usage: train.py <training set dir> <weights.json> [<more weights.json copies>...]

The training set is a synthetic test set generated with a seed no benchmark uses, labels included:

    npx holdout testset generate --seed 1001 --studies 1500 --out /tmp/holdout-train
    docker run --rm --user "$(id -u)" --entrypoint python3 -v /tmp/holdout-train:/data:ro \
      -v "$PWD/docker/examples:/examples" -w /examples/baseline holdout/example-baseline:latest \
      train.py /data weights.json

Every frontal view is one sample labelled with its study's ground truth (private/groundtruth.csv).
"""

import csv
import json
import os
import sys
from multiprocessing import Pool

import numpy as np

from predict import TASKS, features, load, study_of

L2 = 1.0  # ridge on standardized features: keeps weights small and stable across seeds


def frontal_features(path):
    return path, features(load(path))


def name_of(root):
    with open(os.path.join(root, "testset.json")) as fh:
        return json.load(fh)["name"]


def fit_logistic(x, y, l2=L2, steps=50):
    """Newton's method (IRLS) on the penalized log-likelihood; the bias is not penalized."""
    n, d = x.shape
    xb = np.hstack([np.ones((n, 1)), x])
    w = np.zeros(d + 1)
    penalty = np.diag([0.0] + [l2] * d)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + penalty @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: train.py <training set dir> <weights.json> [<copies>...]")
    root = argv[1]
    with open(os.path.join(root, "private", "groundtruth.csv"), newline="") as fh:
        truth = {row["Study"]: [int(float(row[t])) for t in TASKS] for row in csv.DictReader(fh)}
    with open(os.path.join(root, "public", "test_image_paths.csv"), newline="") as fh:
        paths = [row["Path"] for row in csv.DictReader(fh) if "lateral" not in row["Path"]]
    full = [os.path.join(root, "public", p) for p in paths]
    with Pool() as pool:
        extracted = dict(pool.map(frontal_features, full, chunksize=16))

    names = None
    rows, labels = [], []
    for p, f in zip(paths, full):
        feats = extracted[f]
        if feats is None:
            continue
        names = names or sorted(feats)
        rows.append([feats[k] for k in names])
        labels.append(truth[study_of(p)])
    x = np.array(rows)
    y = np.array(labels, dtype=np.float64)
    mean, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / sd
    model = {
        "trained_on": f"{name_of(root)}: {len(rows)} frontal views",
        "features": names,
        "mean": [round(float(v), 6) for v in mean],
        "sd": [round(float(v), 6) for v in sd],
        "tasks": {},
    }
    for k, task in enumerate(TASKS):
        w = fit_logistic(z, y[:, k])
        model["tasks"][task] = {"bias": round(float(w[0]), 5), "weights": [round(float(v), 5) for v in w[1:]]}
        print(f"{task}: {int(y[:, k].sum())} positive views of {len(y)}", file=sys.stderr)
    for out in argv[2:]:
        with open(out, "w") as fh:
            json.dump(model, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main(sys.argv)
