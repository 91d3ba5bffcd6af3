#!/bin/sh
# Broken on purpose: the header misspells a task ("Pleural_Effusion"), so the output is invalid_output.
set -eu
awk -F, 'NR == 1 { print "Study,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural_Effusion"; next }
  { gsub(/"|\r/, ""); sub(/\/view[^\/]*$/, ""); if ($1 != "" && !seen[$1]++) print $1 ",0.5,0.5,0.5,0.5,0.5" }' \
  "$1" > "$2"
