#!/bin/sh
# provider: a tiny OpenID Connect provider. It publishes a discovery document for its domain,
# registers clients at /cgi-bin/register (POST, authorised by its admin secret; kept outside the
# web root) and issues a token at /cgi-bin/token (POST client_id and client_secret) to a client
# it registered — enough for a dependent recipe to prove it was provisioned and wired.
set -eu
[ -s "$ADMIN_SECRET_FILE" ] || { echo "provider: admin secret missing" >&2; exit 1; }
mkdir -p /srv/oidc/.well-known /srv/oidc/cgi-bin /srv/clients
cat > /srv/oidc/.well-known/openid-configuration <<JSON
{"issuer": "https://${DOMAIN}", "authorization_endpoint": "https://${DOMAIN}/authorize",
 "token_endpoint": "https://${DOMAIN}/cgi-bin/token", "jwks_uri": "https://${DOMAIN}/jwks.json",
 "response_types_supported": ["code"], "subject_types_supported": ["public"],
 "id_token_signing_alg_values_supported": ["RS256"]}
JSON
echo '{"keys": []}' > /srv/oidc/jwks.json
# Form fields of a POST body: field NAME prints its decoded value.
cat > /srv/form.sh <<'SH'
body=""
[ "${CONTENT_LENGTH:-0}" -gt 0 ] && read -r -n "$CONTENT_LENGTH" body
field() {
  for pair in $(echo "$body" | tr '&' ' '); do
    [ "${pair%%=*}" = "$1" ] && { httpd -d "${pair#*=}"; return; }
  done
}
reply() { printf 'Status: %s\r\nContent-Type: application/json\r\n\r\n%s\n' "$1" "$2"; exit 0; }
SH
cat > /srv/oidc/cgi-bin/register <<CGI
#!/bin/sh
. /srv/form.sh
[ "\$(field admin)" = "\$(cat ${ADMIN_SECRET_FILE})" ] || reply "401 Unauthorized" '{"error": "not the admin secret"}'
id=\$(field client_id)
case "\$id" in ""|*[!A-Za-z0-9-]*) reply "400 Bad Request" '{"error": "client_id: letters, digits and -"}' ;; esac
secret=\$(field client_secret)
[ -n "\$secret" ] || reply "400 Bad Request" '{"error": "client_secret missing"}'
printf '%s' "\$secret" > "/srv/clients/\$id"
field redirect_uris > "/srv/clients/\$id.redirect_uris"
reply "201 Created" "{\"client_id\": \"\$id\"}"
CGI
cat > /srv/oidc/cgi-bin/token <<CGI
#!/bin/sh
. /srv/form.sh
id=\$(field client_id)
case "\$id" in ""|*[!A-Za-z0-9-]*) reply "401 Unauthorized" '{"error": "invalid_client"}' ;; esac
[ -f "/srv/clients/\$id" ] && [ "\$(field client_secret)" = "\$(cat "/srv/clients/\$id")" ] \
  || reply "401 Unauthorized" '{"error": "invalid_client"}'
reply "200 OK" "{\"access_token\": \"ok\", \"client_id\": \"\$id\"}"
CGI
chmod +x /srv/oidc/cgi-bin/register /srv/oidc/cgi-bin/token
echo "provider: issuer https://${DOMAIN}"
exec httpd -f -v -p 8080 -h /srv/oidc
