#!/usr/bin/env bash
# Fault injection on the real lab (SPEC F-LOCK, F-JANITOR, F-LIFETIME): runs the web fixture N
# times, killing each at a random moment — odd runs with SIGKILL (no teardown possible), even
# runs with SIGTERM (teardown funnel) — then runs the janitor once while a live "sentinel" run is
# in progress, and prints what is left. Targets: every leftover count 0, the sentinel not reaped.
#
#   scripts/fault-injection.sh [N]     (default 10; needs the lab: scripts/lab up)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-10}
ccci=$PWD/.build/debug/ccci
[ -x "$ccci" ] || { echo "build ccci first (scripts/lab up)" >&2; exit 1; }
work=$(mktemp -d /tmp/ccci-fault-XXXXXX)
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="fi$RANDOM.ccci.test" CCCI_LOCK_DIR="$work/locks" NO_COLOR=1
stack_suffix=$(echo "$CCCI_CI_DOMAIN" | tr . _)
mkdir -p "$CCCI_HOME"
cleanup() {
  [ -n "${sentinel:-}" ] && kill -TERM "$sentinel" 2>/dev/null && wait "$sentinel" 2>/dev/null || true
  "$ccci" janitor >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

printf '%-4s %-8s %-9s %-6s %s\n' run signal "killed at" exit "what the run was doing"
sigkills=0; sigterms=0; finished=0; unfunnelled=0
declare -A exits=()
for i in $(seq 1 "$runs"); do
  if (( i % 2 )); then signal=KILL; else signal=TERM; fi
  delay=$(awk -v seed="$RANDOM$i" 'BEGIN { srand(seed); printf "%.1f", 0.5 + rand() * 9.5 }')
  # `setsid` keeps bash's job messages ("Killed") out of the table; the run is still a child.
  setsid "$ccci" run web --pr "$i" >"$work/run-$i.log" 2>&1 &
  pid=$!
  sleep "$delay"
  doing=$(grep -E "^ +[0-9.]+s  (head|upgrade|teardown|dep|run) " "$work/run-$i.log" | tail -n 1 | sed -E 's/ +/ /g' | cut -c1-60 || true)
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$signal" "$pid" 2>/dev/null || true
    [ "$signal" = KILL ] && sigkills=$((sigkills + 1)) || sigterms=$((sigterms + 1))
    shown=$signal
  else
    finished=$((finished + 1)); shown="(done)"
  fi
  code=0; wait "$pid" 2>/dev/null || code=$?
  exits[$code]=$(( ${exits[$code]:-0} + 1 ))
  # A SIGTERM'd run must go through its teardown funnel and print its summary.
  if [ "$shown" = TERM ] && ! grep -qE -- "— exit |stopped during setup" "$work/run-$i.log"; then unfunnelled=$((unfunnelled + 1)); fi
  printf '%-4s %-8s %-9s %-6s %s\n' "$i" "$shown" "${delay}s" "$code" "${doing:-starting}"
done

# A live run the janitor must leave alone: broken waits for convergence for minutes.
"$ccci" run broken --stages install --deploy-timeout 10m >"$work/sentinel.log" 2>&1 &
sentinel=$!
for _ in $(seq 1 300); do grep -q "converge: started" "$CCCI_HOME"/runs/*broken*/run.log 2>/dev/null && break; sleep 0.1; done
sentinel_stack=$(docker service ls --format '{{.Name}}' | awk -v s="_${stack_suffix}_app" 'index($0, "brok-") == 1 && substr($0, length($0) - length(s) + 1) == s { sub(/_app$/, ""); print; exit }')

echo
echo "janitor (once, with the sentinel run live):"
"$ccci" janitor | sed 's/^/  /'
sentinel_reaped=1
if [ -n "$sentinel_stack" ] && docker service inspect "${sentinel_stack}_app" >/dev/null 2>&1; then sentinel_reaped=0; fi
kill -TERM "$sentinel"; wait "$sentinel" || true
sentinel=""

# Counts names starting with $1 and containing $2 (awk: no failing grep under pipefail).
count() { awk -v prefix="$1" -v infix="$2" 'index($0, prefix) == 1 && index($0, infix) { n++ } END { print n + 0 }'; }
left_services=$(docker service ls --format '{{.Name}}' | count web- "_${stack_suffix}_")
left_volumes=$(docker volume ls --format '{{.Name}}' | count web- "_${stack_suffix}_")
left_secrets=$(docker secret ls --format '{{.Name}}' | count web- "_${stack_suffix}_")
left_networks=$(docker network ls --format '{{.Name}}' | count web- "_${stack_suffix}_")
left_env=$( (ls "$CCCI_HOME/apps" 2>/dev/null || true) | count web- ".env")
left_locks=$( (ls "$CCCI_LOCK_DIR" 2>/dev/null || true) | count ccci-app-web- ".lock")

echo
printf '%-34s %s\n' "runs" "$runs"
printf '%-34s %s\n' "killed with SIGKILL" "$sigkills"
printf '%-34s %s\n' "killed with SIGTERM" "$sigterms"
printf '%-34s %s\n' "finished before their kill" "$finished"
printf '%-34s %s\n' "exit codes" "$(for c in "${!exits[@]}"; do printf '%s×%s ' "${exits[$c]}" "$c"; done)"
printf '%-34s %s  (target 0)\n' "SIGTERM runs without teardown" "$unfunnelled"
printf '%-34s %s  (target 0)\n' "leftover services" "$left_services"
printf '%-34s %s  (target 0)\n' "leftover volumes" "$left_volumes"
printf '%-34s %s  (target 0)\n' "leftover secrets" "$left_secrets"
printf '%-34s %s  (target 0)\n' "leftover networks" "$left_networks"
printf '%-34s %s  (target 0)\n' "leftover env files" "$left_env"
printf '%-34s %s  (target 0)\n' "leftover lock files" "$left_locks"
printf '%-34s %s  (target 0)\n' "live runs reaped" "$sentinel_reaped"
total=$((left_services + left_volumes + left_secrets + left_networks + left_env + left_locks + sentinel_reaped + unfunnelled))
[ "$total" -eq 0 ] && echo "PASS" || { echo "FAIL"; exit 1; }
