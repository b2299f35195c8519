# Config versions — bump when changing config templates
export NGINX_CONFIG_VERSION=v1
export APP_ENTRYPOINT_VERSION=v1
export MINIO_ENTRYPOINT_VERSION=v1
