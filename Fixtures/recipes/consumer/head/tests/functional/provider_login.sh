#!/bin/sh
# ccci-requires: provider
# The provider handed over in the deps file publishes its discovery document for its own domain
# and accepts the client secret it generated. TAP output.
set -u
echo "1..2"
# The deps file: {"provider": {"base_url": ..., "resolve": ..., "credentials": {"client_secret": ...}}}
field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["provider"]; v = d
for k in sys.argv[2].split("."): v = v.get(k) if isinstance(v, dict) else None
print(v or "")' "$CCCI_DEPS_FILE" "$1"
}
base=$(field base_url)
resolve=$(field resolve)
secret=$(field credentials.client_secret)
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
if [ -n "$secret" ] && curl $args "$base/cgi-bin/token?client_secret=$secret" | grep -q '"access_token"'; then
  echo "ok 2 - token with handed-over secret"
else
  echo "not ok 2 - token with handed-over secret"
fi
