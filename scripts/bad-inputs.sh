#!/usr/bin/env bash
# Bad inputs, tried as an adversarial user would (issue "Hardening"): every class of defect —
# teardown arguments, hooks that ignore stdin, crashing values, paths that escape, secrets,
# verdicts that blame the wrong party, kill -9 leftovers, `meta check` gaps, exit codes — run
# against the real lab in a sandbox of its own (home, CI domain, locks).
#
#   scripts/bad-inputs.sh [LOOP]      LOOP runs of a hook that never reads stdin (default 50)
#
# Prints one row per case: class, case, exit code, crash (a trap, abort or segfault), residue
# (objects of the sandbox left behind) and the one-line message. A stack cc-ci did not create,
# named like one of its apps, and the lab ingress must survive every case. Exit 1 on any crash,
# residue or casualty. Needs the lab (`scripts/lab up`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
loop=${1:-50}
ccci=$PWD/.build/debug/ccci
[ -x "$ccci" ] || { echo "build ccci first (scripts/lab up)" >&2; exit 1; }
catalogue=${CCCI_LAB_DIR:-/var/lib/ccci/lab}/recipes
[ -d "$catalogue/web/.git" ] || { echo "no lab catalogue at $catalogue (scripts/lab up)" >&2; exit 1; }

work=$(mktemp -d /tmp/ccci-bad-XXXXXX)
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="bad$RANDOM.ccci.test" CCCI_LOCK_DIR="$work/locks" NO_COLOR=1
export CCCI_CATALOGUE_DIR="$work/catalogue" CCCI_PACKS_DIR="$work/packs"
unset CCCI_CONFIG
suffix=$(echo "$CCCI_CI_DOMAIN" | tr . _)
mkdir -p "$CCCI_HOME" "$CCCI_CATALOGUE_DIR" "$CCCI_PACKS_DIR"
for recipe in web broken flaky; do git clone -q "$catalogue/$recipe" "$CCCI_CATALOGUE_DIR/$recipe" 2>/dev/null || true; done
[ -d "$CCCI_CATALOGUE_DIR/flaky/.git" ] || git clone -q "$catalogue/broken" "$CCCI_CATALOGUE_DIR/flaky"

background=()
cleanup() {
  for pid in "${background[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  docker stack rm "$decoy_stack" "ccci-decoy-$suffix" >/dev/null 2>&1
  # The decoys' volumes outlive their stacks: remove them once their containers are gone.
  for stack in "$decoy_stack" "ccci-decoy-$suffix"; do
    for _ in $(seq 1 60); do
      [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && break
      sleep 0.5
    done
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null 2>&1
  done
  "$ccci" janitor >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# --- Decoys: a stack named exactly like a run app of this CI domain, and one named anything. ---
decoy_domain="web-$(printf '%06x' $((RANDOM * RANDOM % 16777216))).$CCCI_CI_DOMAIN"
decoy_stack=$(echo "$decoy_domain" | tr . _)
cat >"$work/decoy.yml" <<'EOF'
version: "3.8"
services:
  app:
    image: ccci-lab/busybox:latest
    command: ["sleep", "3600"]
    volumes: ["data:/data"]
    deploy: { endpoint_mode: dnsrr }
volumes:
  data:
EOF
docker stack deploy --detach=true -c "$work/decoy.yml" "$decoy_stack" >/dev/null
docker stack deploy --detach=true -c "$work/decoy.yml" "ccci-decoy-$suffix" >/dev/null

# --- Helpers. ---
ignore=none  # a live run's stack, while a case runs beside it
alive() {  # alive <pid>: running (a zombie — exited, not yet reaped — is not)
  local state; state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
objects() {  # every docker object and file of the sandbox, decoys (and a live run) excluded
  { docker service ls --format '{{.Name}}'; docker volume ls --format '{{.Name}}'; docker secret ls --format '{{.Name}}'
    docker config ls --format '{{.Name}}'; docker network ls --format '{{.Name}}'; } \
    | grep -F "_$suffix" | grep -vF "$decoy_stack" | grep -v "^ccci-decoy-" | grep -vF "$ignore" || true
  ls "$CCCI_HOME/apps" 2>/dev/null | grep -E '\.env$' | grep -vF "${ignore//_/.}" || true
  ls "$CCCI_HOME/live" 2>/dev/null | grep -E '\.json$' | { [ "$ignore" = none ] && cat || true; } || true
}
residue_count() { objects | grep -c . || true; }

pack() {  # pack <recipe> <toml> [file content [executable]]…: a CI pack for the next case
  rm -rf "$CCCI_PACKS_DIR"; mkdir -p "$CCCI_PACKS_DIR/$1"; printf '%s\n' "$2" >"$CCCI_PACKS_DIR/$1/ccci.toml"
  local dir="$CCCI_PACKS_DIR/$1"; shift 2
  while [ $# -ge 2 ]; do mkdir -p "$(dirname "$dir/$1")"; printf '%s\n' "$2" >"$dir/$1"; chmod +x "$dir/$1"; shift 2; done
}
nopack() { rm -rf "$CCCI_PACKS_DIR"; mkdir -p "$CCCI_PACKS_DIR"; }

fresh_recipe() {  # fresh_recipe <name>: a private clone of a lab recipe to commit a "pull request" on
  local dir="$work/pr-$RANDOM/$1"; git clone -q "$catalogue/$1" "$dir"; echo "$dir"
}
commit() { git -C "$1" add -A && git -C "$1" -c user.name=t -c user.email=t@t commit -qm "pull request"; }

printf '%-3s %-5s %-48s %-4s %-5s %-7s %s\n' '#' class case exit crash residue message
total=0; crashes=0; residue_total=0; wrong=0
row() {  # row <class> <case> <expected exit> <exit> <output file>
  local class=$1 name=$2 expected=$3 code=$4 out=$5 crash=no message
  total=$((total + 1))
  if [ "$code" -ge 131 ] && [ "$code" -le 139 ] && [ "$code" -ne 137 ] || grep -qE "Fatal error|Program crashed|Assertion .* failed" "$out"; then
    crash=yes; crashes=$((crashes + 1))
  fi
  local left; left=$(residue_count); residue_total=$((residue_total + left))
  message=$(awk 'tolower($0) ~ /^error: / { sub(/^[Ee]rror: /, ""); line = $0; if (line ~ /:$/) { getline next_line; sub(/^ +/, "", next_line); line = line " " next_line }; print line; exit }' "$out")
  [ -n "$message" ] || message=$(grep -m1 -E "^  [a-z]+ +FAIL " "$out" | sed -E 's/^  ([a-z]+) +FAIL +[0-9.a-z]+ +/\1 FAIL: /' || true)
  [ -n "$message" ] || message=$(grep -m1 -E "no such app|live run|removed|recorded as interrupted|PASS in|kept for|janitor: [0-9]" "$out" || true)
  [ -n "$message" ] || message=$(tail -n 1 "$out")
  local mark=""
  if [ "$expected" != "-" ] && [ "$code" != "$expected" ]; then mark=" (expected $expected)"; wrong=$((wrong + 1)); fi
  printf '%-3s %-5s %-48.48s %-4s %-5s %-7s %.110s\n' "$total" "$class" "$name" "$code$mark" "$crash" "$left" "$message"
}
try() {  # try <class> <expected exit> <case> -- <command…>
  local class=$1 expected=$2 name=$3; shift 4
  local out="$work/out-$total.txt"
  timeout 300 "$@" >"$out" 2>&1; local code=$?
  row "$class" "$name" "$expected" "$code" "$out"
}

# 1. teardown trusts nothing it is given.
nopack
try 1 2 'teardown ""' -- "$ccci" teardown ""
try 1 2 'teardown "*"' -- "$ccci" teardown '*'
try 1 2 'teardown web' -- "$ccci" teardown web
try 1 2 'teardown ccci-lab (the ingress stack)' -- "$ccci" teardown ccci-lab
try 1 2 'teardown proxy' -- "$ccci" teardown proxy
try 1 2 'teardown ../../etc/passwd' -- "$ccci" teardown ../../etc/passwd
try 1 2 'teardown another CI domain' -- "$ccci" teardown web-abcdef.ci.example.org
try 1 2 'teardown " <domain>" (leading space)' -- "$ccci" teardown " $decoy_domain"
try 1 2 'teardown a name with a newline' -- "$ccci" teardown "$(printf 'web-abcdef\n.%s' "$CCCI_CI_DOMAIN")"
try 1 2 'teardown the stack-name spelling' -- "$ccci" teardown "$decoy_stack"
try 1 1 'teardown a foreign stack under a run app name' -- "$ccci" teardown "$decoy_domain"
try 1 1 'teardown the same, upper-cased' -- "$ccci" teardown "$(echo "$decoy_domain" | tr a-z A-Z)"
try 1 1 'teardown a warm app that does not exist' -- "$ccci" teardown "web.warm.$CCCI_CI_DOMAIN"
try 1 0 'janitor with the foreign stack present' -- "$ccci" janitor
"$ccci" run broken --stages install --deploy-timeout 5m >"$work/live.txt" 2>&1 &
live=$!; background+=("$live")
for _ in $(seq 1 300); do grep -q "converge: started" "$CCCI_HOME"/runs/*/run.log 2>/dev/null && break; sleep 0.1; done
live_domain=$(awk '/^  apps /{print $2; exit}' "$work/live.txt")
ignore=$(echo "$live_domain" | tr . _)
try 1 1 'teardown a live run'"'"'s app' -- "$ccci" teardown "$live_domain"
try 1 1 'teardown a live run'"'"'s app, upper-cased' -- "$ccci" teardown "$(echo "$live_domain" | tr a-z A-Z)"
kill -TERM "$live"; wait "$live" 2>/dev/null
ignore=none

# 3. values that used to crash.
try 3 2 '--deploy-timeout 99999999999h' -- "$ccci" run web --deploy-timeout 99999999999h
try 3 2 '--deadline 1e400s' -- "$ccci" run web --deadline 1e400s
try 3 2 '--deploy-timeout -5s' -- "$ccci" run web --deploy-timeout=-5s
try 3 2 '--deploy-timeout 0s' -- "$ccci" run web --deploy-timeout 0s
try 3 2 '--pr -1' -- "$ccci" run web --pr=-1
try 3 2 '--pr 99999999999999999999' -- "$ccci" run web --pr 99999999999999999999
try 3 2 '--stages ""' -- "$ccci" run web --stages ""
try 3 2 '--stages bogus' -- "$ccci" run web --stages bogus
mkdir -p "$work/m"
check() { printf '%s' "$2" >"$work/m/ccci.toml"; try "$1" 2 "$3" -- "$ccci" meta check "$work/m"; }
check 3 '[[[a]]]' 'meta check: [[[a]]]'
check 3 'deploy_timeout = "99999999999h"' 'meta check: deploy_timeout 99999999999h'
check 3 'deploy_timeout = 1e300' 'meta check: deploy_timeout = 1e300'
check 3 'deploy_timeout = -1' 'meta check: deploy_timeout = -1'
check 3 'deploy_timeout = 9223372036854775807' 'meta check: deploy_timeout = Int64.max'
check 3 "a = $(printf '%.0s[' $(seq 1 2000))" 'meta check: 2000 nested arrays'
check 3 "$(printf '%.0s{b = ' $(seq 1 2000))" 'meta check: 2000 nested inline tables'
check 3 'ready_probe = { path = "/", timeout = "999999d" }' 'meta check: ready_probe timeout 999999d'
check 3 'screenshot = { wait = "1e20s" }' 'meta check: screenshot wait 1e20s'
head -c 3000000 /dev/zero | tr '\0' '#' >"$work/m/ccci.toml"; try 3 2 'meta check: a 3 MB file' -- "$ccci" meta check "$work/m"
head -c 4096 /dev/urandom >"$work/m/ccci.toml"; try 3 2 'meta check: random bytes' -- "$ccci" meta check "$work/m"
printf 'a = "\xff\xfe"\n' >"$work/m/ccci.toml"; try 3 2 'meta check: invalid UTF-8' -- "$ccci" meta check "$work/m"
pr=$(fresh_recipe web); mkdir -p "$pr/tests"; printf '[[[a]]]\n' >"$pr/tests/ccci.toml"; commit "$pr"
try 3 2 'run: the PR'"'"'s own tests/ccci.toml is [[[a]]]' -- "$ccci" run "$pr" --stages install
printf 'capacity = 99999999999999999999\n' >"$work/config.toml"
try 3 2 'node config: capacity 99999999999999999999' -- env CCCI_CONFIG="$work/config.toml" "$ccci" janitor
printf 'run_deadline = "9999999h"\n' >"$work/config.toml"
try 3 2 'node config: run_deadline 9999999h' -- env CCCI_CONFIG="$work/config.toml" "$ccci" run web
printf '[[[x' >"$work/config.toml"
try 3 2 'node config: invalid TOML' -- env CCCI_CONFIG="$work/config.toml" "$ccci" results
try 3 2 'CCCI_CAPACITY=0' -- env CCCI_CAPACITY=0 "$ccci" run web
try 3 2 'CCCI_CAPACITY=lots' -- env CCCI_CAPACITY=lots "$ccci" run web

# 4. paths that escape their home.
printf '#!/bin/sh\ntouch %s/executed\n' "$work" >"$work/evil.sh"; chmod +x "$work/evil.sh"
check 4 'pre_install = "/bin/true"' 'hook by absolute path'
check 4 "pre_install = \"../../../../..$work/evil.sh\"" 'hook through ../'
ln -sf "$work/evil.sh" "$work/m/hook"; check 4 'pre_install = "hook"' 'hook symlinked out of the pack'
check 4 'ready_probe = "/bin/true"' 'ready_probe by absolute path'
check 4 'backup_verify = "../x"' 'backup_verify through ../'
check 4 'compose_overlay = "../../etc/passwd"' 'compose_overlay through ../'
check 4 'compose_overlay = "/etc/passwd"' 'compose_overlay by absolute path'
rm -f "$work/m/hook"
pack web 'pre_install = "hook"'; ln -sf "$work/evil.sh" "$CCCI_PACKS_DIR/web/hook"
try 4 2 'run: a symlinked hook is refused' -- "$ccci" run web --stages install
[ -e "$work/executed" ] && echo "!! a hook outside the pack was EXECUTED" && wrong=$((wrong + 1))
nopack
recipe_case() {  # recipe_case <class> <expected> <case> <stages> <edit command…>
  local class=$1 expected=$2 name=$3 stages=$4; shift 4
  local dir; dir=$(fresh_recipe web); (cd "$dir" && eval "$@"); commit "$dir"
  try "$class" "$expected" "$name" -- "$ccci" run "$dir" --stages "$stages"
}
recipe_case 4 1 'PR: COMPOSE_FILE with ../' install 'echo "COMPOSE_FILE=compose.yml:../../x.yml" >> .env.sample'
recipe_case 4 1 'PR: COMPOSE_FILE=/etc/hostname' install 'echo "COMPOSE_FILE=/etc/hostname" >> .env.sample'
recipe_case 4 1 'PR: compose.yml symlinked to /etc/hostname' install 'rm compose.yml && ln -s /etc/hostname compose.yml'
recipe_case 4 1 'PR: config file: /etc/shadow' install "sed -i 's#file: entrypoint.sh#file: /etc/shadow#' compose.yml"
recipe_case 4 1 'PR: entrypoint.sh symlinked to /etc/shadow' install 'rm entrypoint.sh && ln -s /etc/shadow entrypoint.sh'
recipe_case 4 1 'PR: .env.sample symlinked to /etc/passwd' install 'rm .env.sample && ln -s /etc/passwd .env.sample'
recipe_case 4 2 'PR: tests/ symlinked to /' install 'rm -rf tests && ln -s / tests'
recipe_case 4 1 'PR: a test symlinked to /bin/true' install,custom 'ln -s /bin/true tests/functional/true'

# 5. secrets.
leak_edit() {
  sed -i 's/length=24/length=4/' .env.sample
  cat >tests/functional/leak.sh <<'EOS'
#!/bin/sh
secret=$(docker exec $(docker ps -q -f label=com.docker.stack.namespace=$CCCI_STACK | head -n 1) cat /run/secrets/admin_password)
echo "leak:$secret:"
EOS
  chmod +x tests/functional/leak.sh
}
recipe_case 5 0 'PR: a 4-character generated secret, printed' install,custom leak_edit
last_run=$(ls -td "$CCCI_HOME"/runs/* | head -n 1)
if grep -rqE 'leak:[^<][^:]*:' "$last_run"; then echo "!! a short secret reached the run directory"; wrong=$((wrong + 1)); fi
try 5 2 'a git URL with a token (unreachable)' -- "$ccci" run "https://ci:tok3n-$suffix@127.0.0.1:9/web.git"
if grep -rq "tok3n-$suffix" "$work/out-$((total - 1)).txt" "$CCCI_HOME/runs" 2>/dev/null; then echo "!! the token was printed"; wrong=$((wrong + 1)); fi
pack web '' functional/flood.sh '#!/bin/sh
head -c 300000000 /dev/zero | tr "\0" "x"'
"$ccci" run web --stages install,custom >"$work/flood.txt" 2>&1 &
flood=$!; peak=0
while kill -0 "$flood" 2>/dev/null; do
  rss=$(awk '/VmRSS/{print $2}' "/proc/$flood/status" 2>/dev/null || echo 0); [ "${rss:-0}" -gt "$peak" ] && peak=$rss; sleep 0.2
done
wait "$flood"; code=$?
row 5 "300 MB of test output (peak RSS ${peak} kB)" 0 "$code" "$work/flood.txt"
flood_log=$(ls -S "$(ls -td "$CCCI_HOME"/runs/* | head -n 1)"/tiers/*flood* | head -n 1)
echo "    kept $(stat -c %s "$flood_log") bytes of it: $(grep -ao 'cc-ci: [0-9]* bytes of output cut here' "$flood_log")"
nopack

# 6. verdicts that blamed the wrong party.
try 6 1 'flaky: a healthcheck that flaps' -- "$ccci" run flaky --stages install
pack web 'health_statuses = []'; try 6 2 'health_statuses = []' -- "$ccci" run web --stages install
pack web 'extra_env = { DOMAIN = "evil.example.org" }'; try 6 2 'extra_env DOMAIN' -- "$ccci" run web --stages install
pack web 'extra_env = { STACK_NAME = "x" }'; try 6 2 'extra_env STACK_NAME' -- "$ccci" run web --stages install
pack web 'extra_env = { "BAD-NAME" = "x" }'; try 6 2 'extra_env "BAD-NAME"' -- "$ccci" run web --stages install
pack web 'extra_env = { X = "a\nb" }'; try 6 2 'extra_env value with a newline' -- "$ccci" run web --stages install
nopack
recipe_case 6 1 'PR: compose.yml is broken YAML' install,backup 'printf "services:\n  app: [unclosed\n" > compose.yml'
recipe_case 6 1 'PR: compose.yml is empty' install 'printf "" > compose.yml'
recipe_case 6 1 'PR: .env.sample removed' install 'rm .env.sample'
recipe_case 6 1 'PR: an unknown image' install "sed -i 's#ccci-lab/busybox:latest#ccci-lab/nope:1#' compose.yml"
recipe_case 6 1 'PR: a compose key docker rejects' install "sed -i 's/order: start-first/order: sideways/' compose.yml"
recipe_case 6 1 'PR: no traefik labels (no route: TLS)' install "sed -i '/traefik/d' compose.yml"
"$ccci" run broken --deploy-timeout 5m >"$work/term.txt" 2>&1 &
term=$!
for _ in $(seq 1 300); do grep -q "converge: started" "$CCCI_HOME"/runs/*broken*/run.log 2>/dev/null && break; sleep 0.1; done
sleep 1; kill -TERM "$term"; wait "$term"; code=$?
row 6 'SIGTERM mid-run' 143 "$code" "$work/term.txt"
grep -l CancellationError "$CCCI_HOME"/runs/*/results.json >/dev/null 2>&1 && { echo "!! CancellationError in results"; wrong=$((wrong + 1)); }

# 7. kill -9 leftovers.
pack web '' functional/slow.sh "#!/bin/sh
sleep 600 &
echo \$! > $work/slow.pid
wait"
"$ccci" run web --stages install,custom >"$work/kill.txt" 2>&1 &
victim=$!
for _ in $(seq 1 600); do [ -s "$work/slow.pid" ] && break; sleep 0.1; done
kill -KILL "$victim"; wait "$victim" 2>/dev/null
orphan=$(cat "$work/slow.pid" 2>/dev/null || echo 0)
try 7 0 'janitor after a SIGKILLed run' -- "$ccci" janitor
sleep 0.5
alive "$orphan" && { echo "!! the killed run's test process $orphan survived the janitor"; wrong=$((wrong + 1)); kill -KILL "$orphan"; }
[[ "$("$ccci" results --limit 1)" == *interrupted* ]] || { echo "!! the killed run is not recorded as interrupted"; wrong=$((wrong + 1)); }
nopack

# 8. meta check gaps.
try 8 2 'meta check: a directory that does not exist' -- "$ccci" meta check /nonexistent/pack
printf 'deploy_timeout = "1m"\n' >"$work/m/ccci.toml"
try 8 0 'meta check: the path of ccci.toml itself' -- "$ccci" meta check "$work/m/ccci.toml"
echo x >"$work/m/notes.txt"; try 8 2 'meta check: a file that is not ccci.toml' -- "$ccci" meta check "$work/m/notes.txt"
check 8 'dependencies = ["provder"]' 'meta check: an unknown dependency'
check 8 'dependencies = ["../web"]' 'meta check: a dependency that is a path'
check 8 'na_tiers = ["install"]' 'meta check: na_tiers = install'
check 8 'na_tiers = ["screenshot"]' 'meta check: na_tiers = screenshot'
check 8 'health_statuses = [200, 999]' 'meta check: status 999'
check 8 'ready_probe = { status = 42 }' 'meta check: ready_probe status 42'

# 9. exit codes and messages.
try 9 1 'results --run nope' -- "$ccci" results --run nope
try 9 2 'recipe versions /nonexistent' -- "$ccci" recipe versions /nonexistent
try 9 2 'recipe env /nonexistent' -- "$ccci" recipe env /nonexistent --domain x.example.org
try 9 2 'run an unknown recipe' -- "$ccci" run no-such-recipe
try 9 2 'run an unknown ref' -- "$ccci" run web --ref 0123456789abcdef0123456789abcdef01234567
cp "$CCCI_HOME/ccci.sqlite" "$work/store.bak" 2>/dev/null
echo "not a database" >"$work/bad.sqlite"
try 9 1 'results from a corrupt store' -- env CCCI_HOME="$work/corrupt" sh -c "mkdir -p $work/corrupt && cp $work/bad.sqlite $work/corrupt/ccci.sqlite && $ccci results"
chmod 755 "$work" "$CCCI_HOME"
try 9 0 'results from a store this user cannot write' -- setpriv --reuid=65534 --regid=65534 --clear-groups "$ccci" results --limit 1
"$ccci" run broken --stages install --keep-on-failure >"$work/kept.txt" 2>&1
kept=$(awk '/remove with: ccci teardown/{print $NF; exit}' "$work/kept.txt")
ignore=$(echo "$kept" | tr . _)
try 9 2 'rerun after --keep-on-failure' -- "$ccci" run broken --stages install
ignore=none
try 9 0 'teardown the kept app' -- "$ccci" teardown "$kept"

# 2. hooks and tests that never read their stdin, many times.
pack web 'pre_install = "hooks/exit0"' hooks/exit0 '#!/bin/sh
exit 0' functional/exit0.sh '#!/bin/sh
exit 0'
stdin_crashes=0; stdin_failures=0
for i in $(seq 1 "$loop"); do
  "$ccci" run web --stages install,custom --pr "$i" >"$work/stdin-$i.txt" 2>&1; code=$?
  if [ "$code" -ge 131 ] && [ "$code" -ne 137 ] || grep -qE "Fatal error|was not closed" "$work/stdin-$i.txt"; then stdin_crashes=$((stdin_crashes + 1)); fi
  [ "$code" -eq 0 ] || stdin_failures=$((stdin_failures + 1))
done
echo "2     $loop runs with a hook and a test that never read stdin: $stdin_crashes crashed, $stdin_failures did not pass"
crashes=$((crashes + stdin_crashes)); wrong=$((wrong + stdin_failures))
nopack

# --- Casualties. ---
"$ccci" janitor >/dev/null 2>&1
echo
decoy_ok=1; docker service inspect "${decoy_stack}_app" >/dev/null 2>&1 || decoy_ok=0
docker volume inspect "${decoy_stack}_data" >/dev/null 2>&1 || decoy_ok=0
other_ok=1; docker service inspect "ccci-decoy-${suffix}_app" >/dev/null 2>&1 || other_ok=0
ingress_ok=1; docker service inspect ccci-lab_caddy >/dev/null 2>&1 || ingress_ok=0
left=$(residue_count)
printf '%-52s %s\n' "cases" "$total (+ $loop stdin runs)"
printf '%-52s %s  (target 0)\n' "crashes" "$crashes"
printf '%-52s %s  (target 0)\n' "unexpected exit codes or findings" "$wrong"
printf '%-52s %s  (target 0)\n' "residue left after the cases" "$left"
printf '%-52s %s\n' "foreign stack under a run app's name survived" "$([ $decoy_ok = 1 ] && echo yes || echo NO)"
printf '%-52s %s\n' "foreign stack with another name survived" "$([ $other_ok = 1 ] && echo yes || echo NO)"
printf '%-52s %s\n' "lab ingress survived" "$([ $ingress_ok = 1 ] && echo yes || echo NO)"
[ "$crashes" -eq 0 ] && [ "$wrong" -eq 0 ] && [ "$left" -eq 0 ] && [ $decoy_ok = 1 ] && [ $other_ok = 1 ] && [ $ingress_ok = 1 ] \
  && echo PASS || { echo FAIL; exit 1; }
