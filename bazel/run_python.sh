#!/usr/bin/env bash
# Runs a Python test with Debian's interpreter (/usr/bin/python3), which is
# the one python3-grpcio, python3-protobuf and python3-websocket belong to;
# another python3 earlier on PATH would not see them.
# Usage: run_python.sh <script> [<folder added to PYTHONPATH>...] -- [args]
set -euo pipefail
script=$1; shift
path=()
while (($#)) && [[ $1 != -- ]]; do path+=("$PWD/$1"); shift; done
(($#)) && shift
export PYTHONPATH=$(IFS=:; echo "${path[*]}")
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -u "$script" "$@"
