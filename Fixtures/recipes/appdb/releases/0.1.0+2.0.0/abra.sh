export APP_ENTRYPOINT_VERSION=v1
export DB_ENTRYPOINT_VERSION=v1
export DB_TOOLS_VERSION=v1

# `abra app cmd <app> db dump` — the same dump the backup pre-hook makes.
dump() {
  /usr/local/bin/db-tools dump
}
