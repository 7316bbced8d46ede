#!/usr/bin/env bash
# Load test of POST /v1/decisions and POST /v1/decisions/batch with oha
# (`cargo install oha`), client and server on this machine, release build.
#
#   crates/enduse-server/scripts/load.sh [SECONDS]
#
# Three servers: the bundled data set (no database, nothing logged); a
# SQLite database logging every decision in its audit log (the default of
# a server on a database); the same database with --no-log. Each is loaded
# at concurrency 1, 16 and 64 for SECONDS (default 15) with one ask, then
# with 10,000-ask batches. Prints one line per run: requests/s, p50, p99.
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs="${1:-15}"
oha="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
# SERVE_BIN: another build of the example to measure (old against new).
if [ -n "${SERVE_BIN:-}" ]; then
  bin=$SERVE_BIN
else
  cargo build --quiet --release -p enduse-server --example serve
  bin=target/release/examples/serve
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

start() { # name, args...: sets $url
  local name=$1
  shift
  "$bin" "$@" --listen 127.0.0.1:0 --today 2026-11-01 >/dev/null 2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$tmp/$name.log" | sed 's/listening on //' || true)
    [ -n "$url" ] && return
    sleep 0.1
  done
  echo "server $name did not start" >&2
  exit 1
}

ask='{"actor":"UA","action":"use","model":"ATACMS","place":"RU-KRS","as_of":"2024-09-11"}'
python3 - "$tmp/batch.json" <<'PY'
import json, sys
asks = []
for c in json.load(open("corpus/decisions.json"))["cases"]:
    a = dict(c["request"]); a["as_of"] = c["as_of"]
    if c.get("known_at"): a["known_at"] = c["known_at"]
    asks.append(a)
batch = (asks * (10000 // len(asks) + 1))[:10000]
json.dump({"asks": batch}, open(sys.argv[1], "w"))
PY

run() { # label, url, concurrency, body-file-or-string, duration-args...
  local label=$1 url=$2 c=$3 body=$4
  shift 4
  local out
  if [ -f "$body" ]; then
    out=$("$oha" --no-tui --output-format json -c "$c" "$@" -m POST -H 'content-type: application/json' -D "$body" "$url")
  else
    out=$("$oha" --no-tui --output-format json -c "$c" "$@" -m POST -H 'content-type: application/json' -d "$body" "$url")
  fi
  python3 -c '
import json, sys
label, c = sys.argv[1], sys.argv[2]
d = json.loads(sys.stdin.read())
s = d["summary"]; p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
rps, p50, p99 = s["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000
print("%-36s c=%-3s %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  statuses %s" % (label, c, rps, p50, p99, codes))
' "$label" "$c" <<<"$out"
}

start bundled
bundled=$url
start logged --db "$tmp/log.db" --init
logged=$url
start nolog --db "$tmp/nolog.db" --init --no-log
nolog=$url

for c in 1 16 64; do
  run "decisions, bundled" "$bundled/v1/decisions" "$c" "$ask" -z "${secs}s"
  run "decisions, sqlite + audit log" "$logged/v1/decisions" "$c" "$ask" -z "${secs}s"
  run "decisions, sqlite, no log" "$nolog/v1/decisions" "$c" "$ask" -z "${secs}s"
done
for c in 1 2; do
  run "batch of 10,000, bundled" "$bundled/v1/decisions/batch" "$c" "$tmp/batch.json" -n 10
  run "batch of 10,000, sqlite + audit log" "$logged/v1/decisions/batch" "$c" "$tmp/batch.json" -n 10
done
