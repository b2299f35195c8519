#!/bin/sh
# provider: publishes an OpenID Connect discovery document for its domain, and checks a client
# secret at /cgi-bin/token (enough for a dependent recipe to prove it was handed credentials).
set -eu
[ -s "$CLIENT_SECRET_FILE" ] || { echo "provider: client secret missing" >&2; exit 1; }
mkdir -p /srv/oidc/.well-known /srv/oidc/cgi-bin
cat > /srv/oidc/.well-known/openid-configuration <<JSON
{"issuer": "https://${DOMAIN}", "authorization_endpoint": "https://${DOMAIN}/authorize",
 "token_endpoint": "https://${DOMAIN}/cgi-bin/token", "jwks_uri": "https://${DOMAIN}/jwks.json",
 "response_types_supported": ["code"], "subject_types_supported": ["public"],
 "id_token_signing_alg_values_supported": ["RS256"]}
JSON
echo '{"keys": []}' > /srv/oidc/jwks.json
cat > /srv/oidc/cgi-bin/token <<CGI
#!/bin/sh
given=\$(echo "\$QUERY_STRING" | sed -n 's/^.*client_secret=\([A-Za-z0-9]*\).*\$/\1/p')
if [ "\$given" = "\$(cat ${CLIENT_SECRET_FILE})" ]; then
  printf 'Content-Type: application/json\r\n\r\n{"access_token": "ok", "client_id": "${CLIENT_ID}"}\n'
else
  printf 'Status: 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n{"error": "invalid_client"}\n'
fi
CGI
chmod +x /srv/oidc/cgi-bin/token
echo "provider: issuer https://${DOMAIN}"
exec httpd -f -v -p 8080 -h /srv/oidc
