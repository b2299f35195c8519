#!/bin/sh
# slowdb: a key-value "database" over HTTP (busybox httpd + CGI). A first start on an empty
# volume initialises the data directory slowly; a restart on an initialised one is quick; a
# release that wants a newer schema migrates the data first.
set -eu
data=/var/lib/slowdb/data
mkdir -p "$data" /srv/db/cgi-bin
if [ ! -f "$data/.initialised" ]; then
  echo "slowdb: initialising $data (${SLOWDB_INIT_SECONDS}s)"
  sleep "$SLOWDB_INIT_SECONDS"
  echo 1 > "$data/schema"
  touch "$data/.initialised"
  echo "slowdb: initialised at schema 1"
fi
current=$(cat "$data/schema")
if [ "$current" -gt "$SLOWDB_SCHEMA" ]; then
  echo "slowdb: the data is at schema $current, newer than this release's $SLOWDB_SCHEMA — refusing to start" >&2
  exit 1
fi
while [ "$current" -lt "$SLOWDB_SCHEMA" ]; do
  next=$((current + 1))
  echo "slowdb: migrating schema $current → $next"
  # Schema 2 keeps every key's value upper-cased beside the original (the migration's work).
  for file in "$data"/*; do
    case "$(basename "$file")" in schema | *.upper) continue ;; esac
    [ -f "$file" ] && tr 'a-z' 'A-Z' < "$file" > "$file.upper"
  done
  echo "$next" > "$data/schema"
  current=$next
done
cat > /srv/db/cgi-bin/health <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nok schema %s\n' "$(cat /var/lib/slowdb/data/schema)"
CGI
cat > /srv/db/cgi-bin/get <<'CGI'
#!/bin/sh
key=$(echo "$QUERY_STRING" | sed -n 's/^.*key=\([A-Za-z0-9_-]*\).*$/\1/p')
if [ -n "$key" ] && [ -f "/var/lib/slowdb/data/$key" ]; then
  printf 'Content-Type: text/plain\r\n\r\n'; cat "/var/lib/slowdb/data/$key"
else
  printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such key\n'
fi
CGI
cat > /srv/db/cgi-bin/set <<'CGI'
#!/bin/sh
key=$(echo "$QUERY_STRING" | sed -n 's/^.*key=\([A-Za-z0-9_-]*\).*$/\1/p')
value=$(echo "$QUERY_STRING" | sed -n 's/^.*value=\([A-Za-z0-9_.-]*\).*$/\1/p')
[ -n "$key" ] || { printf 'Status: 400 Bad Request\r\n\r\nkey required\n'; exit 0; }
echo "$value" > "/var/lib/slowdb/data/$key"
printf 'Content-Type: text/plain\r\n\r\nstored\n'
CGI
chmod +x /srv/db/cgi-bin/*
echo "slowdb: schema $current, listening on :8080"
exec httpd -f -v -p 8080 -h /srv/db
