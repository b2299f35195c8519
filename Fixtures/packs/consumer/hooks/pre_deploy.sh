#!/bin/sh
# pre_deploy: what an operator does before consumer's first deploy — insert a session key (a
# secret) and choose the scopes (an env key). The env file cc-ci wrote already names the provider.
set -eu
grep -q '^OIDC_PROVIDER=https://' "$CCCI_ENV_FILE" || { echo "pre_deploy: the env file names no provider" >&2; exit 1; }
key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '{"env": {"OIDC_SCOPES": "openid email"}, "secrets": {"session_key": "%s"}}\n' "$key" > "$CCCI_OUTPUT_FILE"
echo "pre_deploy: session key inserted, scopes chosen for $CCCI_DOMAIN"
