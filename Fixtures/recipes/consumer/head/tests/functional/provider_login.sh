#!/bin/sh
# ccci-requires: provider
# The provider handed over in the deps file publishes its discovery document for its own domain
# and accepts the client secret it generated. TAP output.
set -u
echo "1..2"
deps="${CCCI_DEPS_FILE:?}"
base=$(sed -n 's/.*"provider"[^}]*"base_url" *: *"\([^"]*\)".*/\1/p' "$deps" | head -n 1)
resolve=$(sed -n 's/.*"provider"[^}]*"resolve" *: *"\([^"]*\)".*/\1/p' "$deps" | head -n 1)
secret=$(tr -d '\n' < "$deps" | sed -n 's/.*"client_secret" *: *"\([^"]*\)".*/\1/p')
args="-fsS --max-time 10"
[ -n "${CCCI_CA_CERT:-}" ] && args="$args --cacert $CCCI_CA_CERT"
[ -n "$resolve" ] && args="$args --resolve $resolve"
# shellcheck disable=SC2086
doc=$(curl $args "$base/.well-known/openid-configuration") || { echo "not ok 1 - discovery document"; echo "not ok 2 - token with handed-over secret"; exit 1; }
case "$doc" in
  *"\"issuer\": \"$base\""*) echo "ok 1 - discovery document names the provider as issuer" ;;
  *) echo "not ok 1 - discovery document names the provider as issuer"; echo "# got: $doc" ;;
esac
# shellcheck disable=SC2086
if curl $args "$base/cgi-bin/token?client_secret=$secret" | grep -q '"access_token"'; then
  echo "ok 2 - token with handed-over secret"
else
  echo "not ok 2 - token with handed-over secret"
fi
