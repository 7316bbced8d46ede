#!/usr/bin/env bash
# Every test, from a fresh machine: the README's test command, and what
# `.ci/run` calls.
#
#  1. installs what the tests need and cargo cannot fetch: Debian's Chromium
#     and ChromeDriver for the browser tests (scripts/setup-browser.sh);
#  2. runs the cargo test suite (unit, integration, corpus through library,
#     CLI and HTTP, PostgreSQL conformance on throw-away clusters, browser);
#  3. runs schemathesis against the server's /openapi.json
#     (scripts/schemathesis.sh, installed from PyPI into target/): no 5xx and
#     no response that breaks the description.
#
# ST_MAX_EXAMPLES (default 10 here) and ST_MAX_TIME (default 300 s here) bound the
# schemathesis run; `scripts/schemathesis.sh` alone runs the longer default.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-browser.sh
cargo test --workspace --locked
echo "schemathesis against /openapi.json"
ST_PROFILE=dev ST_MAX_EXAMPLES="${ST_MAX_EXAMPLES:-10}" ST_MAX_TIME="${ST_MAX_TIME:-300}" \
  scripts/schemathesis.sh
