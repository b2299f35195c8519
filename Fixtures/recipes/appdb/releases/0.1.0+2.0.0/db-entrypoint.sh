#!/bin/sh
# appdb "database": a tiny key-value store over HTTP (busybox httpd + CGI). Live data lives in
# /var/lib/db/data (one file per key); consistent dumps go to /var/lib/db/backup.
set -eu
[ -s "$DB_PASSWORD_FILE" ] || { echo "db: password secret missing" >&2; exit 1; }
mkdir -p /var/lib/db/data /var/lib/db/backup /srv/db/cgi-bin
cat > /srv/db/cgi-bin/ping <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\npong\n'
CGI
cat > /srv/db/cgi-bin/get <<'CGI'
#!/bin/sh
key=$(echo "$QUERY_STRING" | sed -n 's/^.*key=\([A-Za-z0-9_-]*\).*$/\1/p')
if [ -n "$key" ] && [ -f "/var/lib/db/data/$key" ]; then
  printf 'Content-Type: text/plain\r\n\r\n'; cat "/var/lib/db/data/$key"
else
  printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such key\n'
fi
CGI
cat > /srv/db/cgi-bin/set <<'CGI'
#!/bin/sh
key=$(echo "$QUERY_STRING" | sed -n 's/^.*key=\([A-Za-z0-9_-]*\).*$/\1/p')
value=$(echo "$QUERY_STRING" | sed -n 's/^.*value=\([A-Za-z0-9_.-]*\).*$/\1/p')
[ -n "$key" ] || { printf 'Status: 400 Bad Request\r\n\r\nkey required\n'; exit 0; }
echo "$value" > "/var/lib/db/data/$key"
printf 'Content-Type: text/plain\r\n\r\nstored\n'
CGI
chmod +x /srv/db/cgi-bin/*
echo "db: listening on :5432"
exec httpd -f -v -p 5432 -h /srv/db
