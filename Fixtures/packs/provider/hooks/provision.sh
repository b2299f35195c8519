#!/bin/sh
# provision: registers an OpenID Connect client for the dependents (CCCI_DEPENDENTS, their
# domains) through the provider's admin endpoint — authorised by the admin secret its deploy
# generated, found in the hook context's `deps.provider.credentials` — and hands the client's id
# and secret to cc-ci through CCCI_OUTPUT_FILE.
set -eu
admin=$(python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["deps"][c["recipe"]]["credentials"]["admin_secret"])')
id="ccci-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
redirects=""
for domain in $(echo "$CCCI_DEPENDENTS" | tr ',' ' '); do redirects="$redirects https://$domain/callback"; done
set -- -fsS --max-time 10
[ -n "${CCCI_CA_CERT:-}" ] && set -- "$@" --cacert "$CCCI_CA_CERT"
[ -n "${CCCI_CURL_RESOLVE:-}" ] && set -- "$@" --resolve "$CCCI_CURL_RESOLVE"
curl "$@" --data-urlencode "admin=$admin" --data-urlencode "client_id=$id" --data-urlencode "client_secret=$secret" \
  --data-urlencode "redirect_uris=${redirects# }" "$CCCI_BASE_URL/cgi-bin/register" >/dev/null
echo "registered client $id for$redirects"
printf '{"client_id": "%s", "client_secret": "%s"}\n' "$id" "$secret" > "$CCCI_OUTPUT_FILE"
