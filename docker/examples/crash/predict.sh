#!/bin/sh
# Broken on purpose: fails the way a python model often does, with a traceback on stderr and exit 1
# (nonzero_exit), after a line on stdout, so the log shows both streams.
echo "loading model from /app/model.pt"
cat >&2 <<'TRACE'
Traceback (most recent call last):
  File "/app/predict.py", line 12, in <module>
    model = torch.load("/app/model.pt")
FileNotFoundError: [Errno 2] No such file or directory: '/app/model.pt'
TRACE
exit 1
