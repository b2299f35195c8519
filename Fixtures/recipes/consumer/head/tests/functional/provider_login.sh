#!/bin/sh
# ccci-requires: provider
# consumer was wired to the provider before its deploy: through the ingress (the lab CA), its
# status says it fetched the provider's discovery document, holds the client id the provider's
# `provision` hook registered, and was granted a token with the client secret. TAP output.
set -u
echo "1..4"
# The deps file: {"provider": {"base_url": ..., "resolve": ..., "credentials": {"client_id": ..., ...}}}
field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["provider"]; v = d
for k in sys.argv[2].split("."): v = v.get(k) if isinstance(v, dict) else None
print(v or "")' "$CCCI_DEPS_FILE" "$1"
}
provider=$(field base_url)
client=$(field credentials.client_id)
curl_to() {
  set -- -fsS --max-time 10 "$@"
  [ -n "${CCCI_CA_CERT:-}" ] && set -- --cacert "$CCCI_CA_CERT" "$@"
  curl "$@"
}
doc=$(curl_to --resolve "$(field resolve)" "$provider/.well-known/openid-configuration") || doc=""
case "$doc" in
  *"\"issuer\": \"$provider\""*) echo "ok 1 - the provider's discovery document names it as issuer" ;;
  *) echo "not ok 1 - the provider's discovery document names it as issuer"; echo "# got: $doc" ;;
esac
status=$(curl_to ${CCCI_CURL_RESOLVE:+--resolve "$CCCI_CURL_RESOLVE"} "$CCCI_BASE_URL/status.json") || status=""
echo "# consumer status: $status"
case "$status" in
  *"\"issuer\": \"$provider\""*) echo "ok 2 - consumer fetched the provider's discovery document" ;;
  *) echo "not ok 2 - consumer fetched the provider's discovery document" ;;
esac
case "$status" in
  *"\"client_id\": \"$client\""*) [ -n "$client" ] && echo "ok 3 - consumer holds the provisioned client id" \
    || echo "not ok 3 - consumer holds the provisioned client id" ;;
  *) echo "not ok 3 - consumer holds the provisioned client id" ;;
esac
case "$status" in
  *'"token_granted": true'*'"scopes": "openid email"'*) echo "ok 4 - token granted with the client secret; pre_deploy's scopes applied" ;;
  *) echo "not ok 4 - token granted with the client secret; pre_deploy's scopes applied" ;;
esac
