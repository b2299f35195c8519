#!/bin/sh
# The site answers on its domain over verified HTTPS with the seeded page. TAP output.
set -u
echo "1..2"
curl_args="-fsS --max-time 10"
[ -n "${CCCI_CA_CERT:-}" ] && curl_args="$curl_args --cacert $CCCI_CA_CERT"
[ -n "${CCCI_CURL_RESOLVE:-}" ] && curl_args="$curl_args --resolve $CCCI_CURL_RESOLVE"
# shellcheck disable=SC2086
page=$(curl $curl_args "$CCCI_BASE_URL/") || { echo "not ok 1 - homepage is served"; echo "not ok 2 - homepage has the title"; exit 1; }
echo "ok 1 - homepage is served"
case "$page" in
  *"web fixture"*) echo "ok 2 - homepage has the title" ;;
  *) echo "not ok 2 - homepage has the title"; echo "# got: $page" ;;
esac
