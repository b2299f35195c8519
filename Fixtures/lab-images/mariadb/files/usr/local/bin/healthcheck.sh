#!/bin/sh
# cc-ci look-alike of the official mariadb image's healthcheck.sh (a subset).
# Tests (all given must pass): --connect  --innodb_initialized  --innodb_buffer_pool_loaded
# Options: --su-mysql / --su=USER (run the tests as that user, via gosu), --defaults-file=F,
#          --defaults-extra-file=F (default: $DATADIR/.my-healthcheck.cnf written at init),
#          --datadir=D (default /var/lib/mysql), --no-defaults
set -eu
datadir=/var/lib/mysql; nodefaults= deffile= extrafile= su= tests=
for arg in "$@"; do
    case "$arg" in
        --su-mysql) su=mysql ;;
        --su=*) su=${arg#--su=} ;;
        --datadir=*) datadir=${arg#--datadir=} ;;
        --no-defaults) nodefaults=1 ;;
        --defaults-file=*) deffile=${arg#--defaults-file=} ;;
        --defaults-extra-file=*) extrafile=${arg#--defaults-extra-file=} ;;
        --connect|--innodb_initialized|--innodb_buffer_pool_loaded) tests="$tests ${arg#--}" ;;
        --verbose|--*=*) ;;
        *) echo "healthcheck.sh: unsupported argument $arg" >&2; exit 1 ;;
    esac
done
if [ -n "$su" ] && [ "$(id -un)" != "$su" ]; then
    exec gosu "$su" "$0" --datadir="$datadir" ${nodefaults:+--no-defaults} ${deffile:+--defaults-file="$deffile"} \
        ${extrafile:+--defaults-extra-file="$extrafile"} $(for t in $tests; do printf -- '--%s ' "$t"; done)
fi
[ -n "$extrafile" ] || [ -n "$deffile" ] || [ ! -r "$datadir/.my-healthcheck.cnf" ] || extrafile=$datadir/.my-healthcheck.cnf
client() {
    mariadb ${nodefaults:+--no-defaults} ${deffile:+--defaults-file="$deffile"} \
        ${extrafile:+--defaults-extra-file="$extrafile"} --skip-ssl -B -N "$@"
}
for t in $tests; do
    case "$t" in
        connect)
            # like the official check: connected unless the client "Can't connect" over TCP
            if client -h localhost --protocol=tcp -e 'SELECT 1' 2>&1 | grep -q "Can't connect"; then
                echo "healthcheck connect failed" >&2; exit 1
            fi ;;
        innodb_initialized)
            [ "$(client -e "SELECT 1 FROM information_schema.ENGINES WHERE engine='InnoDB' AND support IN ('YES','DEFAULT','ENABLED')" 2>/dev/null)" = 1 ] \
                || { echo "healthcheck innodb_initialized failed" >&2; exit 1; } ;;
        innodb_buffer_pool_loaded)
            client -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='INNODB_BUFFER_POOL_LOAD_STATUS'" 2>/dev/null \
                | grep -q -e 'load completed' -e 'not started' \
                || { echo "healthcheck innodb_buffer_pool_loaded failed" >&2; exit 1; } ;;
    esac
done
exit 0
