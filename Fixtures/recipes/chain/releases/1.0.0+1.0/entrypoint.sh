#!/bin/sh
# chain fixture: a site whose data carries a schema version; each release migrates the schema it
# knows, and holds HOLD_MIB MiB of memory (as an app's cache would) for the resource profile.
set -eu

mkdir -p /var/www/html
schema=$(cat /var/www/schema 2>/dev/null || echo none)
case "$schema" in
  none|v1) ;;
  *) echo "chain 1.0: unknown schema $schema" >&2; exit 1 ;;
esac
echo "v1" > /var/www/schema
echo "ok" > /var/www/html/health
echo "schema $(cat /var/www/schema)" > /var/www/html/index.html
if [ "${HOLD_MIB:-0}" -gt 0 ]; then
  # dd keeps its HOLD_MIB buffer, filled, while it waits to write into a pipe nobody reads.
  (dd if=/dev/zero bs="${HOLD_MIB}M" count=1 2>/dev/null | sleep 2147483647) &
fi
echo "chain: serving ${DOMAIN} on :8080 (schema $(cat /var/www/schema))"
exec httpd -f -v -p 8080 -h /var/www/html
