#!/usr/bin/env bash
# Benchmark: the quick lane against a cold run, per recipe, measured alternately in one session:
# `ccci run R --quick` (the head tried on R's warm canonical; its verdict is recorded before the
# canonical is given back) against a cold `ccci run R`. What counts is the time to the verdict —
# when the run records its results (run.log's first "finished:" line) — with the whole quick run
# (the give-back included) printed beside it, and docker's own floor: one rolling update of the
# warm app's service as swarm runs it, until swarm calls the update completed.
#
# Targets (issue 31): slowdb (a first start that initialises for 25 s) quick / cold ≤ 0.35;
# web (a fresh install of seconds) quick / cold ≤ 0.8. Needs the lab (scripts/lab up). Seeds its
# own canonicals with `ccci sweep` under its own home and CI domain and drops them at the end.
# Not a test: it prints numbers, it does not judge them.
#
#   Benchmarks/quick.sh [ROUNDS] [RECIPES…]      (default 3 rounds; slowdb web)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
shift || true
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(slowdb web)
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
drop_all() { for r in "${recipes[@]}"; do "$ccci" canonical drop "$r" >/dev/null 2>&1 || true; done; }
trap 'drop_all; rm -rf "$work"' EXIT
mkdir -p "$CCCI_HOME"

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
newest_run() { ls -1td "$CCCI_HOME"/runs/*/ | head -1; }
# Seconds from the run's start to its recorded verdict (the journal's first "finished:" line).
verdict_at() { awk '/ run [^ ]+ finished: / { sub(/s$/, "", $2); print $2; exit }' "$1/run.log"; }

declare -A row
for recipe in "${recipes[@]}"; do
  echo "seeding $recipe's canonical (ccci sweep --recipe $recipe) …" >&2
  "$ccci" sweep --recipe "$recipe" >/dev/null
  cold=() quick=() quick_total=()
  for round in $(seq 1 "$rounds"); do
    "$ccci" run "$recipe" >/dev/null || true
    cold+=("$(verdict_at "$(newest_run)")")
    t0=$(now); "$ccci" run "$recipe" --quick >/dev/null || true; total=$(echo "$(now) - $t0" | bc)
    quick+=("$(verdict_at "$(newest_run)")"); quick_total+=("$total")
    echo "$recipe round $round: cold verdict ${cold[-1]}s, quick verdict ${quick[-1]}s (whole quick run ${total}s)" >&2
  done
  # Docker's floor for what the lane must do before its verdict: one rolling update of the warm
  # app's service, with the recipe's update_config, until swarm calls it completed.
  service="$(echo "$recipe.warm.$CCCI_CI_DOMAIN" | tr . _)_app"
  rolling=()
  for _ in $(seq 1 "$rounds"); do
    t0=$(now)
    docker service update --detach --force --quiet "$service" >/dev/null
    until [ "$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service")" = completed ]; do
      sleep 0.1
    done
    rolling+=("$(echo "$(now) - $t0" | bc)")
  done
  row[$recipe]="$(median "${cold[@]}") $(median "${quick[@]}") $(median "${quick_total[@]}") $(median "${rolling[@]}")"
  "$ccci" canonical drop "$recipe" >/dev/null
done

printf '\n%-8s %14s %14s %8s %10s %16s %14s\n' recipe "cold verdict" "quick verdict" ratio target "quick, given back" "docker floor"
for recipe in "${recipes[@]}"; do
  read -r mc mq mt mr <<<"${row[$recipe]}"
  target="≤ 0.80"; [ "$recipe" = slowdb ] && target="≤ 0.35"
  printf '%-8s %13.2fs %13.2fs %8.2f %10s %15.2fs %13.2fs\n' "$recipe" "$mc" "$mq" "$(echo "$mq / $mc" | bc -l)" \
    "$target" "$mt" "$mr"
done
echo "(medians of $rounds rounds; verdict = the run's results recorded; docker floor = one rolling update of the warm app's service)"
