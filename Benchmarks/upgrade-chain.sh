#!/usr/bin/env bash
# Benchmark (issue 33): what `upgrade_from` and the resource profile cost.
#
# 1. Three upgrade bases against one: `ccci run web` (every tier) with `upgrade_from =
#    "all-supported"` (web's three releases, each upgraded to the head on an app of its own, side
#    by side) against the default one base, alternately. Target: wall ≤ 1.3× the one-base run.
#    The capacity is 4, so that every base finds a free run slot (with fewer, the bases beyond
#    the free slots wait for one before them).
# 2. The resource profile's CPU: the same one-base run with the stats streams on and off
#    (CCCI_RESOURCE_PROFILE), alternately: ccci's own CPU (user + system of the ccci process, as
#    its run.log's last line gives it; the streams are read in it), and beside it the whole run's
#    (ccci and every child it waited for — chromium, restic, the tests — from the kernel's
#    accounting), which is noisier. Target: ≤ 0.2 s more per run.
#
# Needs the lab (scripts/lab up). Not a test: it prints numbers, it does not judge them.
#
#   Benchmarks/upgrade-chain.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
ccci=${CCCI_BIN:-$PWD/.build/release/ccci}
if [ -z "${CCCI_BIN:-}" ]; then
  command -v swift >/dev/null || { echo "swift is not on PATH (export PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 1; }
  echo "building ccci (swift build -c release --product ccci) …" >&2
  swift build -c release --product ccci 2>&1 | grep -E "error|warning: .*Sources" >&2 || true
fi
[ -x "$ccci" ] || { echo "no ccci at $ccci (swift build -c release --product ccci)" >&2; exit 1; }
work=$(mktemp -d /tmp/ccci-bench-chain-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/one/web" "$work/three/web"
cp -r Fixtures/packs/web/. "$work/one/web/"
cp -r Fixtures/packs/web/. "$work/three/web/"
# upgrade_from above the pack's own keys (a table after it would swallow them).
{ echo 'upgrade_from = "all-supported"'; cat Fixtures/packs/web/ccci.toml; } > "$work/three/web/ccci.toml"
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="bu$RANDOM.ccci.test" NO_COLOR=1 CCCI_CAPACITY=4

# One run: prints "wall cpu-own cpu-all upgrade-tier-seconds bases samples exit".
measure() {
  python3 - "$ccci" "$@" <<'PY'
import json, os, re, resource, subprocess, sys, time
ccci, packs, profile = sys.argv[1], sys.argv[2], sys.argv[3]
env = dict(os.environ, CCCI_PACKS_DIR=packs, CCCI_RESOURCE_PROFILE=profile)
before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.monotonic()
done = subprocess.run([ccci, "run", "web", "--json"], env=env, capture_output=True, text=True)
wall = time.monotonic() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
results = json.loads(done.stdout[done.stdout.index("{"):])
upgrade = results["tiers"]["upgrade"]
samples = sum(s["samples"] for s in (results.get("resources") or {}).get("services", {}).values())
log = open(os.path.join(results["artifacts"]["run_dir"], "run.log")).read()
own = float(re.findall(r"cpu: ccci ([0-9.]+)s", log)[-1])
print(f"{wall:.2f} {own:.2f} {cpu:.3f} {upgrade['duration_s']:.2f} {len(upgrade.get('from') or {})} {samples} {results['exit_code']}")
PY
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

one=() three=() one_tier=() three_tier=() on=() off=() all_on=() all_off=() samples=()
for round in $(seq 1 "$rounds"); do
  read -r w _ _ t n _ code <<<"$(measure "$work/one" 1)"; one+=("$w"); one_tier+=("$t")
  echo "round $round: one base ($n) ${w}s, upgrade tier ${t}s, exit $code" >&2
  read -r w _ _ t n _ code <<<"$(measure "$work/three" 1)"; three+=("$w"); three_tier+=("$t")
  echo "round $round: three bases ($n) ${w}s, upgrade tier ${t}s, exit $code" >&2
  read -r _ c a _ _ s code <<<"$(measure "$work/one" 1)"; on+=("$c"); all_on+=("$a"); samples+=("$s")
  read -r _ c2 a2 _ _ _ code2 <<<"$(measure "$work/one" 0)"; off+=("$c2"); all_off+=("$a2")
  echo "round $round: ccci CPU with stats ${c}s ($s samples), without ${c2}s; whole run ${a}s, ${a2}s (exits $code, $code2)" >&2
done

m1=$(median "${one[@]}") m3=$(median "${three[@]}") t1=$(median "${one_tier[@]}") t3=$(median "${three_tier[@]}")
con=$(median "${on[@]}") coff=$(median "${off[@]}") aon=$(median "${all_on[@]}") aoff=$(median "${all_off[@]}")
printf '\n%-34s %10s %10s %8s %8s\n' "" "one base" "three" ratio target
printf '%-34s %9.2fs %9.2fs %8.2f %8s\n' "ccci run web, wall" "$m1" "$m3" "$(echo "$m3 / $m1" | bc -l)" "≤ 1.30"
printf '%-34s %9.2fs %9.2fs %8.2f\n' "  its upgrade tier" "$t1" "$t3" "$(echo "$t3 / $t1" | bc -l)"
printf '\n%-34s %10s %10s %8s %8s\n' "" "stats on" "off" "extra" target
printf '%-34s %9.2fs %9.2fs %7.2fs %8s\n' "ccci run web, ccci's own CPU" "$con" "$coff" "$(echo "$con - $coff" | bc -l)" "≤ 0.20s"
printf '%-34s %9.2fs %9.2fs %7.2fs\n' "  the whole run's CPU" "$aon" "$aoff" "$(echo "$aon - $aoff" | bc -l)"
echo "(medians of $rounds rounds; $(median "${samples[@]}") stats samples in a run with them on)"
