#!/bin/sh
# Broken on purpose: well-formed rows, but every Edema score is NaN (not a finite number): invalid_output.
set -eu
awk -F, 'NR == 1 { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion"; next }
  { gsub(/"|\r/, ""); sub(/\/view[^\/]*$/, ""); if ($1 != "" && !seen[$1]++) print $1 ",0.5,0.5,0.5,NaN,0.5" }' \
  "$1" > "$2"
