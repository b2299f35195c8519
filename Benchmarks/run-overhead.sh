#!/usr/bin/env bash
# Benchmark: what a full `ccci run` of the web fixture costs, and how `ccci run --stages install`
# compares with a plain shell script doing the same docker steps by hand (create the secret,
# docker stack deploy with the lab's dnsrr overlay, wait until healthy through the ingress,
# remove everything and wait until it is gone). Prints a table. Needs the lab (scripts/lab up).
#
#   Benchmarks/run-overhead.sh [ROUNDS]      (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-5}
ccci=.build/debug/ccci
lab_dir=${CCCI_LAB_DIR:-/var/lib/ccci/lab}
ca="$lab_dir/ingress/data/caddy/pki/authorities/local/root.crt"
work=$(mktemp -d /tmp/ccci-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export CCCI_HOME="$work/home" CCCI_CI_DOMAIN="bench$RANDOM.ccci.test" NO_COLOR=1
[ -x "$ccci" ] || { echo "build ccci first (scripts/lab up)" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

# The plain-shell baseline: the same deploy an operator would script with the docker CLI.
# With FORCE=1 it removes like cc-ci does (containers force-removed instead of stopped
# gracefully), so the comparison is not won by the removal strategy alone.
plain_install() {
  local tree="$1" domain="$2" stack
  stack=$(echo "$domain" | tr . _)
  head -c 24 /dev/urandom | base64 | tr -dc a-zA-Z0-9 | docker secret create "${stack}_admin_password_v1" - >/dev/null
  cat > "$work/dnsrr.yml" <<YAML
version: "3.8"
services:
  app:
    deploy:
      endpoint_mode: dnsrr
YAML
  (cd "$tree" && DOMAIN="$domain" STACK_NAME="$stack" SECRET_ADMIN_PASSWORD_VERSION=v1 ENTRYPOINT_CONF_VERSION=v2 \
    LETS_ENCRYPT_ENV=production EXTRA_DOMAINS= \
    docker stack deploy --detach=true --resolve-image never -c compose.yml -c "$work/dnsrr.yml" "$stack" >/dev/null)
  until [ "$(docker service ls --filter "name=${stack}_app" --format '{{.Replicas}}')" = "1/1" ]; do sleep 0.2; done
  until curl -fsS -o /dev/null --max-time 2 --cacert "$ca" --resolve "$domain:443:127.0.0.1" "https://$domain/"; do sleep 0.2; done
  docker stack rm "$stack" >/dev/null
  if [ "${FORCE:-0}" = 1 ]; then
    docker ps -aq --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker rm -f >/dev/null 2>&1 || true
  fi
  while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ]; do sleep 0.2; done
  while docker network ls --format '{{.Name}}' | grep -q "^${stack}_"; do sleep 0.2; done
  docker volume rm "${stack}_content" >/dev/null
  docker secret rm "${stack}_admin_password_v1" >/dev/null 2>&1 || true
}

mkdir -p "$CCCI_HOME"
git clone -q "$lab_dir/recipes/web" "$work/web"

printf '%-6s %-28s %10s\n' round measurement seconds
full=(); mine=(); plain=(); forced=()
for round in $(seq 1 "$rounds"); do
  start=$(now); "$ccci" run web --json >/dev/null; t=$(elapsed "$start" "$(now)"); full+=("$t")
  printf '%-6s %-28s %10.2f\n' "$round" "ccci run web (all stages)" "$t"
  start=$(now); "$ccci" run web --stages install --json >/dev/null; t=$(elapsed "$start" "$(now)"); mine+=("$t")
  printf '%-6s %-28s %10.2f\n' "$round" "ccci run --stages install" "$t"
  start=$(now); plain_install "$work/web" "plain$round$RANDOM.$CCCI_CI_DOMAIN"; t=$(elapsed "$start" "$(now)"); plain+=("$t")
  printf '%-6s %-28s %10.2f\n' "$round" "plain shell install" "$t"
  start=$(now); FORCE=1 plain_install "$work/web" "force$round$RANDOM.$CCCI_CI_DOMAIN"; t=$(elapsed "$start" "$(now)"); forced+=("$t")
  printf '%-6s %-28s %10.2f\n' "$round" "plain shell, forced removal" "$t"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_full=$(median "${full[@]}"); m_mine=$(median "${mine[@]}"); m_plain=$(median "${plain[@]}"); m_forced=$(median "${forced[@]}")
echo
printf '%-40s %10.2f s\n' "median full lifecycle (5 stages)" "$m_full"
printf '%-40s %10.2f s\n' "median ccci run --stages install" "$m_mine"
printf '%-40s %10.2f s\n' "median plain shell deploy/wait/remove" "$m_plain"
printf '%-40s %10.2f s\n' "median plain shell, forced removal" "$m_forced"
printf '%-40s %10.2f   (target <= 1.15)\n' "ratio ccci install / plain shell" "$(echo "$m_mine / $m_plain" | bc -l)"
printf '%-40s %10.2f   (target <= 1.15)\n' "ratio ccci install / plain, forced" "$(echo "$m_mine / $m_forced" | bc -l)"
