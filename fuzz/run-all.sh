#!/bin/sh
# Runs every fuzz target for SECONDS seconds each (default 600), one after the other, and
# prints one line per target: name, seconds, executions, crashes. Needs the nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz --locked`). New corpus entries go to
# fuzz/corpus/<target>/ (review before committing); crash inputs to fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh 600                 # all targets, 10 minutes each
#   fuzz/run-all.sh 90 upload_json      # one target
set -eu
seconds=${1:-600}
shift || true
cd "$(dirname "$0")"
targets=${*:-$(cargo +nightly fuzz list)}
# No sanitizer: tanji's crates forbid unsafe code; overflow checks and debug assertions stay on.
cargo +nightly fuzz build -s none
mkdir -p logs
for t in $targets; do
    log="logs/$t.log"
    status=0
    cargo +nightly fuzz run -s none "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crashes=$(ls "artifacts/$t" 2>/dev/null | grep -c . || true)
    printf '%s\t%ss\t%s executions\t%s crash file(s)\texit %s\n' "$t" "$seconds" "${execs:-?}" "$crashes" "$status"
done
