#!/bin/sh
# Broken on purpose: one row per image (the Path as Study) instead of one per study, so studies with
# several views are duplicated and image paths are not study ids: invalid_output.
set -eu
awk -F, 'NR == 1 { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion"; next }
  { gsub(/"|\r/, ""); if ($1 != "") print $1 ",0.5,0.5,0.5,0.5,0.5" }' "$1" > "$2"
