#!/bin/sh
# Renders $NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX into
# $NGINX_ENVSUBST_OUTPUT_DIR, substituting only variables that are set in the environment
# (optionally only those whose names match $NGINX_ENVSUBST_FILTER), like the official image.
set -e
say() { [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*" >&2; }

dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
out=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}

[ -d "$dir" ] || exit 0
if [ ! -w "$out" ]; then say "ERROR: $dir exists, but $out is not writable"; exit 0; fi
defined=$(env | cut -d= -f1 | grep -E "${filter:-.}" | sed 's/.*/${&}/' | tr '\n' ' ')
find "$dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    rel=${template#"$dir"/}
    target=$out/${rel%"$suffix"}
    mkdir -p "$(dirname "$target")"
    say "Running envsubst on $template to $target"
    envsubst "$defined" < "$template" > "$target"
done
