#!/bin/sh
# Broken on purpose: never finishes and never writes, so the run must end by the time limit (timeout).
# `exec` makes sleep PID 1, which ignores SIGTERM: the sandbox has to kill it for real.
exec sleep infinity
