#!/bin/sh
# appdb app: forwards to the database by its service name ("db"), as a real app would.
set -eu
mkdir -p /srv/app/cgi-bin
cat > /srv/app/cgi-bin/health <<CGI
#!/bin/sh
if wget -q -O /dev/null "http://${DB_HOST}:${DB_PORT}/cgi-bin/ping"; then
  printf 'Content-Type: text/plain\r\n\r\ndb ok\n'
else
  printf 'Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndb unreachable\n'
fi
CGI
cat > /srv/app/cgi-bin/kv <<CGI
#!/bin/sh
case "\$QUERY_STRING" in
  *value=*) action=set ;;
  *) action=get ;;
esac
body=\$(wget -q -O - "http://${DB_HOST}:${DB_PORT}/cgi-bin/\$action?\$QUERY_STRING" 2>/dev/null) || {
  printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n'; exit 0; }
printf 'Content-Type: text/plain\r\n\r\n%s\n' "\$body"
CGI
chmod +x /srv/app/cgi-bin/*
echo '<!doctype html><title>appdb</title><h1>appdb</h1>' > /srv/app/index.html
echo "app: database at ${DB_HOST}:${DB_PORT}"
exec httpd -f -v -p 8080 -h /srv/app
