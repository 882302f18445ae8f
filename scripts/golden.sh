#!/usr/bin/env bash
# Before/after comparison of every shipped scenario's outputs (a byte-identical refactor's check).
#
#   scripts/golden.sh make DIR        run every shipped scenario, a sweep and the calibration
#                                      benchmark with target/release/chipmarket into DIR
#   scripts/golden.sh diff OLD NEW    compare two such folders file by file (manifest.json, which
#                                      holds the time, is left out, and so are the reports' rows
#                                      marked data-volatile); exit 1 on a difference
#
# Typical use: build the release binary at the commit before a change, `make` into one folder,
# build after the change, `make` into another, then `diff` them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CHIPMARKET:-target/release/chipmarket}
case "${1:-}" in
make)
  out=${2:?usage: scripts/golden.sh make DIR}
  rm -rf "$out"
  mkdir -p "$out"
  for s in scenarios/*.toml; do
    name=$(basename "$s" .toml)
    "$bin" run "$s" --out "$out/run-$name" --quiet --xlsx
  done
  "$bin" sweep scenarios/sweeps/export-controls.toml --out "$out/sweep-export-controls" --quiet --jobs 2
  "$bin" calibrate scenarios/calibration/benchmark.toml --out "$out/calibrate-benchmark" --quiet --jobs 2
  echo "golden outputs in $out"
  ;;
diff)
  old=${2:?usage: scripts/golden.sh diff OLD NEW}
  new=${3:?usage: scripts/golden.sh diff OLD NEW}
  # results.xlsx holds a creation time inside its zip; its sheets are compared through the CSVs.
  # The reports' provenance rows marked data-volatile hold the date, the command line and the overrides
  # (whose --out differs between the two folders).
  status=0
  diff -r -q -x manifest.json -x results.xlsx -x report.html "$old" "$new" || status=1
  while IFS= read -r f; do
    rel=${f#"$old"/}
    if ! cmp -s <(grep -v data-volatile "$f") <(grep -v data-volatile "$new/$rel" 2>/dev/null); then
      echo "Files $f and $new/$rel differ"
      status=1
    fi
  done < <(find "$old" -name report.html)
  if [ "$status" = 0 ]; then
    echo "identical: $(find "$old" -type f ! -name manifest.json ! -name results.xlsx | wc -l) files"
  else
    echo "outputs differ" >&2
    exit 1
  fi
  ;;
*)
  sed -n '2,10p' "$0"
  exit 2
  ;;
esac
