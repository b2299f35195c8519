#!/usr/bin/env bash
# Benchmark: `ccci run web --quick` (the head tried on web's warm canonical, then the canonical
# given back) against a cold `ccci run web`, measured alternately in one session; medians and
# the ratio (issue target: quick ≤ 0.35× cold). Needs the lab (scripts/lab up). Seeds its own
# canonical with `ccci sweep --recipe web` under its own home and CI domain, and drops it at the
# end. Not a test: it prints numbers, it does not judge them.
#
#   Benchmarks/quick.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
# A release build, as a node runs (`CCCI_BIN` to measure another): a debug build's own CPU is
# several times a release build's.
ccci=${CCCI_BIN:-$PWD/.build/release/ccci}
if [ -z "${CCCI_BIN:-}" ]; then
  command -v swift >/dev/null || { echo "swift is not on PATH (export PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 1; }
  echo "building ccci (swift build -c release --product ccci) …" >&2
  swift build -c release --product ccci 2>&1 | grep -E "error|warning: .*Sources" >&2 || true
fi
work=$(mktemp -d /tmp/ccci-bench-quick-XXXXXX)
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="bq$RANDOM.ccci.test" NO_COLOR=1 \
  CCCI_PACKS_DIR="${CCCI_PACKS_DIR:-/var/lib/ccci/packs}"
[ -x "$ccci" ] || { echo "no ccci at $ccci (swift build -c release --product ccci)" >&2; exit 1; }
trap '"$ccci" canonical drop web >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$CCCI_HOME"

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# `tier seconds` of a results document.
tier() { python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['tiers'].get(sys.argv[2]); print(t['duration_s'] if t else 0)" "$1" "$2"; }

echo "seeding web's canonical (ccci sweep --recipe web) …" >&2
"$ccci" sweep --recipe web >/dev/null
cold=() quick=() upgrade=() custom=() rest=()
for round in $(seq 1 "$rounds"); do
  t0=$(now); "$ccci" run web >/dev/null; cold+=("$(echo "$(now) - $t0" | bc)")
  t0=$(now); "$ccci" run web --quick >/dev/null; q=$(echo "$(now) - $t0" | bc); quick+=("$q")
  results="$(ls -1td "$CCCI_HOME"/runs/*/ | head -1)results.json"
  u=$(tier "$results" upgrade); c=$(tier "$results" custom)
  upgrade+=("$u"); custom+=("$c"); rest+=("$(echo "$q - $u - $c" | bc)")
  echo "round $round: cold ${cold[-1]}s, quick ${q}s" >&2
done
# Docker's own floor for what the lane must do twice (the head in, the canonical back): one
# rolling update of the warm app's service as swarm runs it — with the recipe's update_config
# (web: start-first, swarm's default 5 s monitor) — until swarm calls the update completed.
service="$(echo "web.warm.$CCCI_CI_DOMAIN" | tr . _)_app"
rolling=()
for _ in $(seq 1 "$rounds"); do
  t0=$(now)
  docker service update --detach --force --quiet "$service" >/dev/null
  until [ "$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service")" = completed ]; do
    sleep 0.1
  done
  rolling+=("$(echo "$(now) - $t0" | bc)")
done
mc=$(median "${cold[@]}"); mq=$(median "${quick[@]}")
printf '\n%-44s %10s\n' "measure (median of $rounds)" "seconds"
printf '%-44s %10.2f\n' "cold: ccci run web" "$mc"
printf '%-44s %10.2f\n' "quick: ccci run web --quick" "$mq"
printf '%-44s %10.2f   (target ≤ 0.35)\n' "ratio quick / cold" "$(echo "$mq / $mc" | bc -l)"
printf '%-44s %10.2f\n' "  quick: upgrade tier (snapshot, redeploy, converge, window)" "$(median "${upgrade[@]}")"
printf '%-44s %10.2f\n' "  quick: custom tier (the recipe's tests)" "$(median "${custom[@]}")"
printf '%-44s %10.2f\n' "  quick: the rest (set-up, canonical given back)" "$(median "${rest[@]}")"
mr=$(median "${rolling[@]}")
printf '%-44s %10.2f\n' "docker: one rolling update of web (swarm's own)" "$mr"
printf '%-44s %10.2f   (two updates / cold: %.2f)\n' "floor of the lane: two updates + custom tier" \
  "$(echo "2 * $mr + $(median "${custom[@]}")" | bc -l)" "$(echo "2 * $mr / $mc" | bc -l)"
