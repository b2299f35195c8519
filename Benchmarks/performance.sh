#!/usr/bin/env bash
# Benchmark: the run's own costs, as one table. Pairs are measured alternately in one session
# (so drift hits both sides alike); the table shows medians and ratios. Needs the lab
# (scripts/lab up). Not a test: it prints numbers, it does not judge them.
#
#   - `ccci run web --stages install` against a plain shell script doing the same deploy, wait
#     and forced removal with the docker CLI. "The same wait" is cc-ci's: every replica running
#     and its container healthy (F-CONVERGE), the app answering over the ingress, then held for
#     the 3 s stability window; a second pair takes both without the window (`stable_for = "0s"`
#     in a copy of web's pack);
#   - a full `ccci run web` against `--serial` (head and upgrade paths one after the other);
#   - four fixture recipes at once against the longest of them alone;
#   - `ccci --version` start-up;
#   - CPU per full run, ccci itself and its children (from the run's own `cpu:` log line);
#   - one full run's phases, set against what docker (or restic) needs for the same phase.
#
#   Benchmarks/performance.sh [ROUNDS]      (default 3)
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
lab_dir=${CCCI_LAB_DIR:-/var/lib/ccci/lab}
ca="$lab_dir/ingress/data/caddy/pki/authorities/local/root.crt"
work=$(mktemp -d /tmp/ccci-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Its own home and CI domain, the lab's packs (the recipes' customization), and room for four
# runs at once (the capacity knob), so "four at once" measures the node, not the queue.
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="bench$RANDOM.ccci.test" NO_COLOR=1 \
  CCCI_PACKS_DIR="${CCCI_PACKS_DIR:-/var/lib/ccci/packs}" CCCI_CAPACITY=4
[ -x "$ccci" ] || { echo "no ccci at $ccci (swift build -c release --product ccci)" >&2; exit 1; }
mkdir -p "$CCCI_HOME"
# The same packs with web's stability window off, for the pair that leaves the window out.
cp -r "$CCCI_PACKS_DIR" "$work/packs-nowindow"
{ echo 'stable_for = "0s"'; cat "$CCCI_PACKS_DIR/web/ccci.toml"; } >"$work/packs-nowindow/web/ccci.toml"

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { echo "$1 / $2" | bc -l; }
declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }
med() { median ${samples[$1]}; }

# The plain-shell floor: what an operator would script with the docker CLI, removing the way
# cc-ci does (containers force-removed). Prints its phases: deploy converge health remove.
plain_install() {
  local tree="$1" domain="$2" stack t0 t1 t2 t3 t4
  stack=$(echo "$domain" | tr . _)
  t0=$(now)
  head -c 24 /dev/urandom | base64 | tr -dc a-zA-Z0-9 | docker secret create "${stack}_admin_password_v1" - >/dev/null
  printf 'version: "3.8"\nservices:\n  app:\n    deploy:\n      endpoint_mode: dnsrr\n' > "$work/dnsrr.yml"
  (cd "$tree" && DOMAIN="$domain" STACK_NAME="$stack" SECRET_ADMIN_PASSWORD_VERSION=v1 ENTRYPOINT_CONF_VERSION=v2 \
    LETS_ENCRYPT_ENV=production EXTRA_DOMAINS= \
    docker stack deploy --detach=true --resolve-image never -c compose.yml -c "$work/dnsrr.yml" "$stack" >/dev/null)
  t1=$(now)
  until [ "$(docker service ls --filter "name=${stack}_app" --format '{{.Replicas}}')" = "1/1" ] &&
    [ -n "$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_app" --filter health=healthy)" ]; do
    sleep 0.1
  done
  t2=$(now)
  until curl -fsS -o /dev/null --max-time 2 --cacert "$ca" --resolve "$domain:443:127.0.0.1" "https://$domain/"; do sleep 0.1; done
  # STABLE=3: hold the healthy app as long as cc-ci's stability window (F-CONVERGE) does, from
  # convergence, as cc-ci counts it.
  local rest
  rest=$(echo "${STABLE:-0} - ($(now) - $t2)" | bc)
  if (( $(echo "$rest > 0" | bc) )); then sleep "$rest"; fi
  t3=$(now)
  docker stack rm "$stack" >/dev/null
  docker ps -aq --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker rm -f >/dev/null 2>&1 || true
  while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ]; do sleep 0.1; done
  while docker network ls --format '{{.Name}}' | grep -q "^${stack}_"; do sleep 0.1; done
  docker volume rm "${stack}_content" >/dev/null
  docker secret rm "${stack}_admin_password_v1" >/dev/null 2>&1 || true
  t4=$(now)
  echo "$(echo "$t1-$t0" | bc) $(echo "$t2-$t1" | bc) $(echo "$t3-$t2" | bc) $(echo "$t4-$t3" | bc)"
}

# The node's CPU time so far, busy and idle, in clock ticks (/proc/stat): what four runs at once
# used of what the node had.
node_cpu() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
ticks=$(getconf CLK_TCK)

# The run directory of the newest run.
last_run() { ls -1td "$CCCI_HOME"/runs/*/ | head -1; }
cpu_of() { grep -o 'cpu: ccci [0-9.]*s, children [0-9.]*s' "$1/run.log" | tr -d 's,' | awk '{print $3, $5}'; }

git clone -q "$lab_dir/recipes/web" "$work/web"
# Warm-up (page cache, image layers) and the node's restic repository, as `ccci lab up` leaves it.
"$ccci" run web --stages install,backup --json >/dev/null

printf '%-6s %-42s %10s\n' round measurement seconds
for round in $(seq 1 "$rounds"); do
  start=$(now); "$ccci" run web --stages install --json >/dev/null; t=$(since "$start"); add install "$t"
  printf '%-6s %-42s %10.2f\n' "$round" "ccci run web --stages install" "$t"
  start=$(now); phases=$(STABLE=3 plain_install "$work/web" "plain$round$RANDOM.$CCCI_CI_DOMAIN"); t=$(since "$start")
  add plain "$t"
  read -r p_deploy p_converge p_health p_remove <<<"$phases"
  add p_deploy "$p_deploy"; add p_converge "$p_converge"; add p_health "$p_health"; add p_remove "$p_remove"
  printf '%-6s %-42s %10.2f\n' "$round" "plain shell, same wait, forced removal" "$t"
  start=$(now); CCCI_PACKS_DIR="$work/packs-nowindow" "$ccci" run web --stages install --json >/dev/null; t=$(since "$start")
  add install_nowindow "$t"
  printf '%-6s %-42s %10.2f\n' "$round" "ccci run web --stages install, 0s window" "$t"
  start=$(now); plain_install "$work/web" "nowin$round$RANDOM.$CCCI_CI_DOMAIN" >/dev/null; t=$(since "$start")
  add plain_nowindow "$t"
  printf '%-6s %-42s %10.2f\n' "$round" "plain shell, no hold" "$t"

  start=$(now); "$ccci" run web --json >/dev/null; t=$(since "$start"); add full "$t"
  run=$(last_run); read -r own children <<<"$(cpu_of "$run")"; add cpu_own "$own"; add cpu_children "$children"
  cp "$run/results.json" "$work/full-$round.json"; cp "$run/run.log" "$work/full-$round.log"
  printf '%-6s %-42s %10.2f\n' "$round" "ccci run web (all stages)" "$t"
  # The same run without a browser (the recipe's functional tests, the screenshot): the run's own CPU.
  "$ccci" run web --stages install,upgrade,backup,restore,lint --json >/dev/null
  read -r own children <<<"$(cpu_of "$(last_run)")"; add nt_own "$own"; add nt_children "$children"
  start=$(now); "$ccci" run web --serial --json >/dev/null; t=$(since "$start"); add serial "$t"
  printf '%-6s %-42s %10.2f\n' "$round" "ccci run web --serial" "$t"

  longest=0
  for recipe in web appdb oneshot provider; do
    start=$(now); "$ccci" run "$recipe" --json >/dev/null || true; t=$(since "$start")
    add "alone_$recipe" "$t"
    if (( $(echo "$t > $longest" | bc) )); then longest=$t; fi
  done
  add longest "$longest"
  printf '%-6s %-42s %10.2f\n' "$round" "longest of four, alone" "$longest"
  read -r busy0 idle0 <<<"$(node_cpu)"
  start=$(now)
  pids=()
  for recipe in web appdb oneshot provider; do "$ccci" run "$recipe" --json >/dev/null & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  t=$(since "$start"); add four "$t"
  read -r busy1 idle1 <<<"$(node_cpu)"
  add four_busy "$(echo "($busy1 - $busy0) / $ticks" | bc -l)"
  add four_available "$(echo "($busy1 - $busy0 + $idle1 - $idle0) / $ticks" | bc -l)"
  printf '%-6s %-42s %10.2f\n' "$round" "four recipes at once" "$t"
done

versions=()
for _ in $(seq 1 20); do start=$(now); "$ccci" --version >/dev/null; versions+=("$(since "$start")"); done

# One full run's phases (the median round's results), from its checks and its log.
phases=$(python3 - "$work" "$rounds" <<'PY'
import json, re, sys, statistics
work, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    res = json.load(open(f"{work}/full-{r}.json"))
    install = {c["name"]: c["duration_s"] for c in res["tiers"]["install"]["checks"]}
    def pick(prefix): return sum(v for k, v in install.items() if k.startswith(prefix))
    log = open(f"{work}/full-{r}.log").read().splitlines()
    stamp = lambda line: float(re.match(r"\S+\s+([0-9.]+)s", line).group(1))
    teardown = [stamp(l) for l in log if " teardown: " in l]
    rows.append({
        "deploy": pick("deploy"), "converge": pick("converge"), "health": pick("health") + pick("ready"),
        "backup": res["tiers"]["backup"]["duration_s"], "restore": res["tiers"]["restore"]["duration_s"],
        "tests": res["tiers"]["custom"]["duration_s"],
        "lint": res["tiers"]["lint"]["duration_s"], "screenshot": res["tiers"]["screenshot"]["duration_s"],
        "teardown": (max(teardown) - min(teardown)) if teardown else 0.0,
    })
for key in ["lint", "deploy", "converge", "health", "screenshot", "backup", "restore", "tests", "teardown"]:
    print(key, statistics.median(row[key] for row in rows))
PY
)
# Opened with the node's quick key, as ccci opens it (the key whose scrypt has N=4096).
quick_key=$(grep -l '"N":4096' "$CCCI_HOME"/restic/repository/keys/* 2>/dev/null | head -1 | xargs -r basename)
restic_floor=$( (start=$(now); RESTIC_REPOSITORY="$CCCI_HOME/restic/repository" RESTIC_PASSWORD_FILE="$CCCI_HOME/restic/password" \
  RESTIC_KEY_HINT="$quick_key" restic snapshots --no-cache --json >/dev/null; since "$start") )

echo
printf '%-44s %10s %10s %8s\n' "measurement (median of $rounds)" ccci baseline ratio
row() { printf '%-44s %10.2f %10.2f %8.2f   %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "${4:-}"; }
row "install vs plain shell (same wait, forced rm)" "$(med install)" "$(med plain)" "(target <= 0.90)"
row "  both without the 3 s stability window" "$(med install_nowindow)" "$(med plain_nowindow)"
row "full run vs --serial" "$(med full)" "$(med serial)"
row "four recipes at once vs longest alone" "$(med four)" "$(med longest)" "(target <= 1.15)"
printf '%-44s %10.2f s of %.2f s (%.0f%%) on %d cores\n' "  node CPU busy while the four ran" "$(med four_busy)" \
  "$(med four_available)" "$(echo "100 * $(med four_busy) / $(med four_available)" | bc -l)" "$(nproc)"
printf '%-44s %10.3f s\n' "ccci --version start-up (median of 20)" "$(median "${versions[@]}")"
own=$(med cpu_own); children=$(med cpu_children)
printf '%-44s %10.2f s   ccci %.2f s + children %.2f s\n' "CPU per full web run" \
  "$(echo "$own + $children" | bc)" "$own" "$children"
own=$(med nt_own); children=$(med nt_children)
printf '%-44s %10.2f s   ccci %.2f s + children %.2f s   (target <= 4)\n' "  the same without a browser (tests, screenshot)" \
  "$(echo "$own + $children" | bc)" "$own" "$children"
echo
printf '%-12s %10s %14s\n' phase ccci "docker/restic"
while read -r name seconds; do
  case $name in
    deploy) floor=$(med p_deploy) ;; converge) floor=$(med p_converge) ;; health) floor=$(med p_health) ;;
    teardown) floor=$(med p_remove) ;; backup|restore) floor=$restic_floor ;; *) floor="" ;;
  esac
  if [ -n "$floor" ]; then
    printf '%-12s %10.2f %14.2f\n' "$name" "$seconds" "$floor"
  else
    printf '%-12s %10.2f %14s\n' "$name" "$seconds" "-"
  fi
done <<<"$phases"
echo "(backup/restore floor: one restic command opening the node repository with its quick key; tests have no docker floor;"
echo " backup target <= 1.5 s)"
