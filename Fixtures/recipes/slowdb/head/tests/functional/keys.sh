#!/bin/sh
# A key stored through the app reads back, upper-cased beside it once migrated (schema 2).
set -eu
args="-fsS --max-time 10"
[ -n "${CCCI_CA_CERT:-}" ] && args="$args --cacert $CCCI_CA_CERT"
[ -n "${CCCI_CURL_RESOLVE:-}" ] && args="$args --resolve $CCCI_CURL_RESOLVE"
value="v$(date +%s)"
# shellcheck disable=SC2086
curl $args "$CCCI_BASE_URL/cgi-bin/set?key=probe&value=$value" | grep -q stored
# shellcheck disable=SC2086
[ "$(curl $args "$CCCI_BASE_URL/cgi-bin/get?key=probe")" = "$value" ]
# shellcheck disable=SC2086
curl $args "$CCCI_BASE_URL/cgi-bin/health" | grep -q "ok schema 2"
echo "ok: key round-trip at schema 2"
