#!/usr/bin/env bash
# Times `enduse map --cell 0.05` end to end per process (wall, and CPU =
# user + sys), for two binaries in alternation so that both see the same
# load, and prints the sizes of what they write.
#   research/bench-map.sh OLD_BINARY NEW_BINARY [RUNS]
set -euo pipefail
old=$1 new=$2 runs=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(map --actor UA --action use --model HIMARS --as-of 2024-06-15 --cell 0.05)
for i in $(seq "$runs"); do
  for which in old new; do
    bin=${!which}
    /usr/bin/time -f "$which run $i: %e s wall, %U s user, %S s sys, %M KB max RSS" \
      "$bin" "${args[@]}" --out "$tmp/$which.svg" > /dev/null
  done
done
"$new" "${args[@]}" --out "$tmp/new.svg" --geojson "$tmp/new.geojson" > /dev/null
ls -l "$tmp"/old.svg "$tmp"/new.svg "$tmp"/new.geojson | awk '{print $5, $9}'
