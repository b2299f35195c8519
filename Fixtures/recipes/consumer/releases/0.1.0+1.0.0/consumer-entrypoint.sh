#!/bin/sh
# consumer: signs users in with an OpenID Connect provider. At start it reads its provider and
# client from the env and its client secret and session key from swarm secrets, fetches the
# provider's discovery document and gets a token with its client credentials; /status.json says
# what it found. Without a provider it does not start.
set -eu
fail() { echo "consumer: $*" >&2; exit 1; }
[ -n "${OIDC_PROVIDER:-}" ] || fail "OIDC_PROVIDER is not set"
[ -n "${OIDC_CLIENT_ID:-}" ] || fail "OIDC_CLIENT_ID is not set"
[ -s "$OIDC_CLIENT_SECRET_FILE" ] || fail "the client secret is missing"
[ "$(wc -c < "$SESSION_KEY_FILE")" -ge 16 ] || fail "the session key is shorter than 16 characters"
host=${OIDC_PROVIDER#https://}
host=${host%%/*}
# The lab has no DNS for app domains: a name that does not resolve is sent to the lab ingress
# (the proxy network's `caddy`), as DNS sends it to the node's ingress in production.
if ! nslookup "$host" >/dev/null 2>&1; then
  # The answer's addresses come after its `Name:` line (the server's own comes before).
  ingress=$(nslookup caddy 2>/dev/null | awk '/^Name:/ { answer = 1 } answer && /^Address/ { print $NF; exit }')
  [ -n "$ingress" ] && echo "${ingress%:*} $host" >> /etc/hosts
fi
mkdir -p /srv/www
tries=0
until wget -q -O /srv/www/discovery.json "$OIDC_PROVIDER/.well-known/openid-configuration" 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -lt 15 ] || fail "cannot fetch $OIDC_PROVIDER/.well-known/openid-configuration"
  sleep 1
done
issuer=$(sed -n 's/.*"issuer": *"\([^"]*\)".*/\1/p' /srv/www/discovery.json)
token_endpoint=$(sed -n 's/.*"token_endpoint": *"\([^"]*\)".*/\1/p' /srv/www/discovery.json)
token=$(wget -q -O - --post-data "client_id=$OIDC_CLIENT_ID&client_secret=$(cat "$OIDC_CLIENT_SECRET_FILE")" \
  "$token_endpoint" 2>/dev/null) || token=""
case "$token" in *'"access_token"'*) granted=true ;; *) granted=false ;; esac
cat > /srv/www/status.json <<JSON
{"issuer": "$issuer", "client_id": "$OIDC_CLIENT_ID", "token_granted": $granted, "scopes": "${OIDC_SCOPES:-}"}
JSON
echo "<h1>consumer</h1><p>signs in with $issuer as client $OIDC_CLIENT_ID</p>" > /srv/www/index.html
echo "consumer: issuer $issuer, client $OIDC_CLIENT_ID, token granted: $granted"
exec httpd -f -p 8080 -h /srv/www
