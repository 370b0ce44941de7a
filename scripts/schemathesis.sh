#!/usr/bin/env bash
# The API contract check: schemathesis (an OpenAPI property-based tester) runs every operation
# of /openapi.json against `tanji serve` on a fresh demo park, once with an operator token and
# once with an enterprise token, with all checks, a fixed seed and a bounded number of examples
# per operation. Exits non-zero on any failure or schema error.
#
#   scripts/schemathesis.sh            # needs pip install schemathesis==4.32.5 openapi-spec-validator==0.9.0
#   ST_MAX_EXAMPLES=50 ST_SEED=7 scripts/schemathesis.sh   # more examples, another seed
#
# Outside CI (CI != "true") it prints SKIPPED and exits 0 when schemathesis is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seed="${ST_SEED:-20261203}"
max_examples="${ST_MAX_EXAMPLES:-25}"
# Per run (one token): a bound on the time, so that CI stays short whatever the examples.
max_time="${ST_MAX_TIME:-600}"

if ! command -v schemathesis >/dev/null 2>&1 || ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "schemathesis or openapi-spec-validator is not installed (.ci/run installs them)" >&2
    exit 1
  fi
  echo "SKIPPED: schemathesis or openapi-spec-validator not installed (python3 -m pip install schemathesis==4.32.5 openapi-spec-validator==0.9.0)"
  exit 0
fi

cargo build --locked -q -p tanji-cli --bin tanji
tanji="$PWD/target/debug/tanji"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$tanji" demo --dir "$work/park" >"$work/demo.log"
config="$work/tanji.toml"
# Loopback fuzzing sends thousands of records that are rejected: a high per-address refusal
# limit lets the upload route be exercised rather than answer 429 (documented, and tested in
# crates/server/tests/limits.rs) for most of the run.
cat >"$config" <<TOML
[http]
refusals_per_window = 1000000
TOML
operator="$("$tanji" token new --role operator --name schemathesis-operator --config "$config" 2>/dev/null)"
enterprise="$("$tanji" token new --role enterprise:e-0001 --name schemathesis-e-0001 --config "$config" 2>/dev/null)"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
TANJI_LOG=error "$tanji" serve --dir "$work/park" --listen "127.0.0.1:$port" --config "$config" \
  >"$work/serve.log" 2>&1 &
server_pid=$!

# The document itself: valid OpenAPI 3.1, checked by openapi-spec-validator.
python3 -m openapi_spec_validator --schema 3.1 crates/server/openapi.json

status=0
for who in operator enterprise; do
  token="$operator"
  [ "$who" = enterprise ] && token="$enterprise"
  echo "== schemathesis, $who token (seed $seed, at most $max_examples examples per operation)"
  start=$(date +%s)
  # From a scratch directory: schemathesis keeps a cache of past failures (.schemathesis/) in
  # its working directory, and each run starts from none.
  mkdir "$work/$who"
  (cd "$work/$who" && timeout "$max_time" schemathesis --config-file "$root/scripts/schemathesis.toml" run "$base/openapi.json" \
    --wait-for-schema 60 \
    --checks all \
    --header "Authorization: Bearer $token" \
    --seed "$seed" \
    --max-examples "$max_examples" \
    --workers 1 \
    --generation-database none \
    --request-timeout 30 \
    --no-color) || status=1
  echo "== $who token: $(( $(date +%s) - start )) s"
done
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the check; its log:" >&2
  cat "$work/serve.log" >&2
  status=1
fi
exit "$status"
