#!/usr/bin/env bash
# Runs schemathesis against the HTTP API's own description (/openapi.json):
# a server on a throw-away SQLite database holding the bundled data set, with
# a user that has every role, whose token schemathesis sends. Every response
# must be free of 5xx and conform to the description (status, content type,
# headers, schema).
#
#   scripts/schemathesis.sh [extra schemathesis options]
#
# Schemathesis is installed from PyPI into target/schemathesis-venv (pinned;
# set SCHEMATHESIS_VERSION to change it). The server is the enduse-server
# crate's `serve` example, which calls `enduse_server::serve` as
# `enduse serve` does, and adds the user.
# ST_MAX_EXAMPLES (default 30) sets the examples per operation,
# ST_MAX_TIME (default 600) the time budget in seconds, ST_PROFILE (default
# release) the cargo profile of the server (`dev` reuses the test build).
set -euo pipefail
cd "$(dirname "$0")/.."

version="${SCHEMATHESIS_VERSION:-4.32.5}"
venv=target/schemathesis-venv
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

db="$tmp/enduse.db"
today=2026-11-01
profile="${ST_PROFILE:-release}"
case "$profile" in
  release) dir=release ;;
  dev) dir=debug ;;
  *) echo "ST_PROFILE must be release or dev, not \`$profile\`" >&2; exit 2 ;;
esac
cargo build --quiet --locked --profile "$profile" -p enduse-server --example serve
"${CARGO_TARGET_DIR:-target}/$dir/examples/serve" --db "$db" --init --user fuzz \
  --listen 127.0.0.1:0 --today "$today" 2>"$tmp/log" &
pid=$!

url=
for _ in $(seq 1 600); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$tmp/log" | head -n1 | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
token=$(grep -o 'token: eu_[A-Za-z0-9_-]*' "$tmp/log" | head -n1 | sed 's/token: //')
[ -n "$token" ] || { echo "no token" >&2; exit 1; }
echo "schemathesis $version against $url (pid $pid)"

# Schemathesis keeps a cache (.schemathesis/) in its working directory.
root=$(pwd)
mkdir -p target/schemathesis-work
cd target/schemathesis-work
"$root/$venv/bin/st" run "$url/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --header "Authorization: Bearer $token" \
  --max-examples "${ST_MAX_EXAMPLES:-30}" \
  --max-time "${ST_MAX_TIME:-600}" \
  --request-timeout 60 \
  --workers 2 \
  --seed 1 \
  "$@"
