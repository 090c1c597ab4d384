#!/bin/sh
# run.sh BUILD - `make bench`: the SPEC §7 figures as ratios to baselines run
# in the same invocation (tests/bench/bench.py; docs/bench.md explains them).
set -eu
B=${1:-build}
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/bench.py "$B"
