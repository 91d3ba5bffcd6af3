#!/usr/bin/env bash
# Packs the baseline model as a code bundle (src/predict.py + src/weights.json), straight from
# docker/examples/baseline, so the bundle always runs the very model the baseline image runs.
#   bash docker/examples/bundle-baseline/pack.sh bundle.tar.gz
set -euo pipefail
out="${1:?usage: pack.sh OUT.tar.gz}"
baseline="$(cd "$(dirname "${BASH_SOURCE[0]}")/../baseline" && pwd)"
tar -czf "$out" -C "$baseline" --transform 's,^,src/,' --owner=0 --group=0 --numeric-owner predict.py weights.json
echo "wrote $out"
