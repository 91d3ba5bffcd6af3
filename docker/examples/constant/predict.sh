#!/bin/sh
# The fastest valid output (docs/architecture.md, "Predictions and the metric"): one row per study,
# the same score for every task.
# Study = the image path without its final /view...jpg; a study's views are listed together, but awk's
# `seen` keeps the first occurrence anyway. No image is opened: this measures the platform's overhead.
set -eu
awk -F, 'NR == 1 { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion"; next }
  { gsub(/"|\r/, ""); sub(/\/view[^\/]*$/, ""); if ($1 != "" && !seen[$1]++) print $1 ",0.5,0.5,0.5,0.5,0.5" }' \
  "$1" > "$2"
