#!/bin/sh
# cc-ci look-alike of the official mariadb image's entrypoint (busybox sh).
# First start on an empty datadir: mariadb-install-db, a temporary --skip-networking server to
# set the root password, create MARIADB_DATABASE / MARIADB_USER, run /docker-entrypoint-initdb.d.
set -eu
set -o pipefail

note() { echo "$(date -u '+%F %T') 0 [Note] [Entrypoint]: $*"; }
warn() { echo "$(date -u '+%F %T') 0 [Warn] [Entrypoint]: $*" >&2; }
die()  { echo "$(date -u '+%F %T') 0 [ERROR] [Entrypoint]: $*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the content of the file named by VAR_FILE (e.g. a swarm secret)
file_env() {
    var=$1 def=${2:-}
    eval "val=\${$var:-} fval=\${${var}_FILE:-}"
    if [ -n "$val" ] && [ -n "$fval" ]; then die "both $var and ${var}_FILE are set (but are exclusive)"; fi
    if [ -n "$fval" ]; then val=$(cat "$fval") || die "cannot read ${var}_FILE $fval"; fi
    [ -n "$val" ] || val=$def
    eval "$var=\$val"; export "$var"; unset "${var}_FILE"
}
# mariadb_env NAME: MARIADB_NAME, falling back to MYSQL_NAME (each with its _FILE form)
mariadb_env() {
    file_env "MYSQL_$1"; eval "my=\$MYSQL_$1"
    file_env "MARIADB_$1" "$my"
}

# a command line starting with an option runs mariadbd with it
case "${1:-}" in -*) set -- mariadbd "$@" ;; esac

server_opt() { # the value mariadbd would use for option $1 (with the command line's options)
    "$@" --verbose --help 2>/dev/null | awk -v o="$OPT" '$1 == o { print $2; exit }'
}

if [ "${1:-}" = mariadbd ] || [ "${1:-}" = mysqld ]; then
    OPT=datadir; DATADIR=$(server_opt "$@"); DATADIR=${DATADIR:-/var/lib/mysql}
    OPT=socket; SOCKET=$(server_opt "$@"); SOCKET=${SOCKET:-/run/mysqld/mysqld.sock}

    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
        find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql:mysql '{}' +
        note "Switching to dedicated user 'mysql'"
        exec gosu mysql "$0" "$@"
    fi

    if [ ! -d "$DATADIR/mysql" ]; then
        mariadb_env ROOT_PASSWORD
        mariadb_env ROOT_HOST; MARIADB_ROOT_HOST=${MARIADB_ROOT_HOST:-%}
        mariadb_env DATABASE
        mariadb_env USER
        mariadb_env PASSWORD
        mariadb_env RANDOM_ROOT_PASSWORD
        mariadb_env INITDB_SKIP_TZINFO
        file_env MYSQL_ALLOW_EMPTY_PASSWORD; file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD "$MYSQL_ALLOW_EMPTY_PASSWORD"
        if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
            die "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
        fi
        if [ -n "$MARIADB_USER" ] && [ "$MARIADB_USER" = root ]; then
            die "MARIADB_USER=\"root\", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user"
        fi
        if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then warn "MARIADB_USER set, but MARIADB_PASSWORD not set"; fi

        note "Initializing database files"
        # drop the command's first word (mariadbd): the rest are server options install-db passes on
        shift_cmd=$1; shift
        mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
            --skip-test-db --cross-bootstrap --skip-name-resolve --default-time-zone=SYSTEM \
            --enforce-storage-engine= --skip-log-bin --expire-logs-days=0 \
            --loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
            "$@" >/dev/null || die "mariadb-install-db failed"
        set -- "$shift_cmd" "$@"
        note "Database files initialized"

        note "Starting temporary server"
        "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
            --expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 \
            --skip-ssl --skip-log-bin &
        tmp_pid=$!
        sql() { mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot --database=mysql "$@"; }
        i=0
        until echo 'SELECT 1' | sql >/dev/null 2>&1; do
            kill -0 "$tmp_pid" 2>/dev/null || die "temporary server exited"
            i=$((i + 1)); [ "$i" -lt 300 ] || die "Unable to start server."
            sleep 0.1
        done
        note "Temporary server started."

        if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ] && [ -d /usr/share/zoneinfo ]; then
            note "Loading time zone info"
            { echo 'SET @@SESSION.SQL_LOG_BIN=0;'; mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null; } | sql
        fi
        if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
            MARIADB_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
            note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
        fi
        str() { printf "%s" "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }   # SQL string literal body
        ident() { printf "%s" "$1" | sed -e 's/`/``/g'; }                       # SQL `identifier` body
        healthpw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)
        {
            echo "SET @@SESSION.SQL_LOG_BIN=0;"
            echo "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
            echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
            echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');"
            echo "SET PASSWORD FOR 'root'@'localhost'= PASSWORD('$(str "$MARIADB_ROOT_PASSWORD")');"
            if [ "$MARIADB_ROOT_HOST" != localhost ]; then
                echo "CREATE USER 'root'@'$(str "$MARIADB_ROOT_HOST")' IDENTIFIED BY '$(str "$MARIADB_ROOT_PASSWORD")';"
                echo "GRANT ALL ON *.* TO 'root'@'$(str "$MARIADB_ROOT_HOST")' WITH GRANT OPTION;"
                echo "GRANT PROXY ON ''@'%' TO 'root'@'$(str "$MARIADB_ROOT_HOST")' WITH GRANT OPTION;"
            fi
            echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$healthpw';"
            echo "CREATE USER 'healthcheck'@'::1' IDENTIFIED BY '$healthpw';"
            echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$healthpw';"
            echo "GRANT USAGE ON *.* TO 'healthcheck'@'127.0.0.1', 'healthcheck'@'::1', 'healthcheck'@'localhost';"
            if [ -n "$MARIADB_DATABASE" ]; then
                echo "CREATE DATABASE IF NOT EXISTS \`$(ident "$MARIADB_DATABASE")\`;"
            fi
            if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
                echo "CREATE USER '$(str "$MARIADB_USER")'@'%' IDENTIFIED BY '$(str "$MARIADB_PASSWORD")';"
                if [ -n "$MARIADB_DATABASE" ]; then
                    echo "GRANT ALL ON \`$(ident "$MARIADB_DATABASE" | sed 's/_/\\_/g')\`.* TO '$(str "$MARIADB_USER")'@'%';"
                fi
            fi
        } | sql || die "could not set up users and database"
        printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
            "$SOCKET" "$healthpw" > "$DATADIR/.my-healthcheck.cnf"
        chmod 600 "$DATADIR/.my-healthcheck.cnf"

        # from here on, the root password is needed
        if [ -n "$MARIADB_ROOT_PASSWORD" ]; then
            pwfile=$(mktemp); chmod 600 "$pwfile"
            printf '[client]\npassword="%s"\n' "$(printf %s "$MARIADB_ROOT_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')" > "$pwfile"
            sql() { mariadb --defaults-extra-file="$pwfile" --protocol=socket --socket="$SOCKET" -uroot "$@"; }
        fi
        for f in $(find /docker-entrypoint-initdb.d -mindepth 1 -maxdepth 1 2>/dev/null | sort); do
            case "$f" in
                *.sh) if [ -x "$f" ]; then note "$0: running $f"; "$f"; else note "$0: sourcing $f"; . "$f"; fi ;;
                *.sql)     note "$0: running $f"; sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} < "$f" ;;
                *.sql.gz)  note "$0: running $f"; gunzip -c "$f" | sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
                *.sql.xz)  note "$0: running $f"; xzcat "$f" | sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
                *.sql.bz2) note "$0: running $f"; bzcat "$f" | sql ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} ;;
                *) note "$0: ignoring $f" ;;
            esac
        done
        [ -z "${pwfile:-}" ] || rm -f "$pwfile"

        note "Stopping temporary server"
        kill "$tmp_pid"; wait "$tmp_pid" || die "temporary server did not stop cleanly"
        note "Temporary server stopped"
        echo
        note "MariaDB init process done. Ready for start up."
        echo
    fi
fi
exec "$@"
