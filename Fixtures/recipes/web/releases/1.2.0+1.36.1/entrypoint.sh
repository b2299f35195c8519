#!/bin/sh
# web fixture: a static site served by busybox httpd from the `content` volume.
set -eu

if [ ! -s "${ADMIN_PASSWORD_FILE}" ]; then
  echo "web: admin password secret is missing at ${ADMIN_PASSWORD_FILE}" >&2
  exit 1
fi

mkdir -p /var/www/html
# First start: seed the site. Later starts keep whatever the volume holds.
if [ ! -f /var/www/html/index.html ]; then
  printf '<!doctype html><title>%s</title><h1>%s</h1>\n' "${SITE_TITLE}" "${SITE_TITLE}" > /var/www/html/index.html
fi
echo "ok" > /var/www/html/health
echo "1.36.1" > /var/www/html/upstream-version
echo "web: serving ${DOMAIN} on :8080"
exec httpd -f -v -p 8080 -h /var/www/html
