#!/usr/bin/env bash
# Benchmark: `ccci lint` of each recipe of the real-recipe corpus (Fixtures/real-recipes), a
# release build as a node runs it, whole process (start-up included). Prints, per recipe, the
# median, minimum and maximum wall time of ROUNDS runs, and its findings. Target: under 250 ms each.
#
#   Benchmarks/lint.sh [ROUNDS]      (default 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-10}
ccci=${CCCI_BIN:-$PWD/.build/release/ccci}
if [ -z "${CCCI_BIN:-}" ]; then
  command -v swift >/dev/null || { echo "swift is not on PATH (export PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 1; }
  echo "building ccci (swift build -c release --product ccci) …" >&2
  swift build -c release --product ccci 2>&1 | grep -E "error|warning: .*Sources" >&2 || true
fi
[ -x "$ccci" ] || { echo "no ccci at $ccci" >&2; exit 1; }
printf '%-18s %8s %8s %8s   %s\n' recipe median min max findings
for dir in Fixtures/real-recipes/*/; do
  name=$(basename "$dir")
  times=()
  for _ in $(seq 1 "$rounds"); do
    start=$(date +%s%N)
    "$ccci" lint "$dir" >/dev/null 2>&1 || true
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  median=${sorted[$(( rounds / 2 ))]}
  summary=$("$ccci" lint "$dir" 2>/dev/null | tail -n 1 || true)
  printf '%-18s %6s ms %5s ms %5s ms   %s\n' "$name" "$median" "${sorted[0]}" "${sorted[$((rounds - 1))]}" "${summary#*: }"
done
