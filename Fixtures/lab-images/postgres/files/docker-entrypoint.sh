#!/bin/sh
# cc-ci look-alike of the official postgres image's entrypoint (busybox sh).
set -eu
set -o pipefail

log() { echo "$*"; }
die() { echo "$*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the content of the file named by VAR_FILE (e.g. a swarm secret)
file_env() {
    var=$1 def=${2:-}
    eval "val=\${$var:-} fval=\${${var}_FILE:-}"
    if [ -n "$val" ] && [ -n "$fval" ]; then die "error: both $var and ${var}_FILE are set (but are exclusive)"; fi
    if [ -n "$fval" ]; then val=$(cat "$fval") || die "error: cannot read ${var}_FILE $fval"; fi
    [ -n "$val" ] || val=$def
    eval "$var=\$val"; export "$var"; unset "${var}_FILE"
}

case "${1:-}" in -*) set -- postgres "$@" ;; esac

if [ "${1:-}" = postgres ]; then
    export PGDATA=${PGDATA:-/var/lib/postgresql/data}
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA" /var/run/postgresql
        chmod 00700 "$PGDATA" 2>/dev/null || :
        chmod 03775 /var/run/postgresql
        find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
        if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then mkdir -p "$POSTGRES_INITDB_WALDIR"; chown -R postgres "$POSTGRES_INITDB_WALDIR"; fi
        exec gosu postgres "$0" "$@"
    fi

    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"

    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
            die "Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".

       You may also use \"POSTGRES_HOST_AUTH_METHOD=trust\" to allow all
       connections without a password. This is *not* recommended."
        fi
        [ -w "$PGDATA" ] || die "error: $PGDATA is not writable by $(id -un)"
        pwfile=$(mktemp); printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
        # POSTGRES_INITDB_ARGS is split into words, as in the official image
        initdb --username="$POSTGRES_USER" --pwfile="$pwfile" \
            ${POSTGRES_INITDB_WALDIR:+--waldir="$POSTGRES_INITDB_WALDIR"} $POSTGRES_INITDB_ARGS
        rm -f "$pwfile"

        auth=${POSTGRES_HOST_AUTH_METHOD:-$(postgres -C password_encryption "$@" 2>/dev/null || echo scram-sha-256)}
        [ -n "$auth" ] || auth=scram-sha-256
        printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

        PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD \
            pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
        export PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD
        psql_() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
        if [ "$POSTGRES_DB" != postgres ]; then
            exists=$(echo "SELECT 1 FROM pg_database WHERE datname = :'db' ;" | psql_ --dbname postgres -tA -v db="$POSTGRES_DB")
            if [ -z "$exists" ]; then
                echo 'CREATE DATABASE :"db" ;' | psql_ --dbname postgres -v db="$POSTGRES_DB"
            fi
        fi
        echo
        for f in $(find /docker-entrypoint-initdb.d -mindepth 1 -maxdepth 1 2>/dev/null | sort); do
            case "$f" in
                *.sh) if [ -x "$f" ]; then log "$0: running $f"; "$f"; else log "$0: sourcing $f"; . "$f"; fi ;;
                *.sql)    log "$0: running $f"; psql_ --dbname "$POSTGRES_DB" -f "$f"; echo ;;
                *.sql.gz) log "$0: running $f"; gunzip -c "$f" | psql_ --dbname "$POSTGRES_DB"; echo ;;
                *.sql.xz) log "$0: running $f"; xzcat "$f" | psql_ --dbname "$POSTGRES_DB"; echo ;;
                *) log "$0: ignoring $f" ;;
            esac
        done
        pg_ctl -D "$PGDATA" -m fast -w stop
        unset PGPASSWORD
        echo
        log "PostgreSQL init process complete; ready for start up."
        echo
    else
        echo
        log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
        echo
    fi
fi
exec "$@"
