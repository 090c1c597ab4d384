#!/bin/sh
# run_one.sh SECS TARGET - one fuzz target for SECS seconds over its corpus
# (tests/fuzz/corpus/NAME). A crash leaves its input in tests/fuzz/ (the
# artifact prefix), prints the end of the log and exits 255, which stops
# `make fuzz` (it runs JOBS targets at a time through xargs).
secs=$1 t=$2
[ -f "$t" ] && [ -x "$t" ] || exit 0
n=$(basename "$t")
mkdir -p "tests/fuzz/corpus/$n"
work=$(mktemp -d)
if ! "$t" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=1024 \
    -artifact_prefix=tests/fuzz/ -print_final_stats=0 "$work" "tests/fuzz/corpus/$n" \
    >"$work.log" 2>&1; then
  echo "fuzz: $n FAILED"
  tail -40 "$work.log"
  rm -rf "$work" "$work.log"
  exit 255
fi
echo "fuzz: $n for ${secs}s: $(grep -E '^(Done|#[0-9]+ *DONE)' "$work.log" | tail -1)"
rm -rf "$work" "$work.log"
