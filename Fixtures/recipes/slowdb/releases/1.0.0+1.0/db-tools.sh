#!/bin/sh
# slowdb backup hooks: `dump` writes every key and the schema to the backed-up directory, `load`
# replaces the live keys with the dump (the initialised data directory stays initialised, as a
# database's does when a dump is loaded into it), `dump-clean` removes it.
set -eu
data=/var/lib/slowdb/data
dump=/var/lib/slowdb/backup/dump.txt
case "${1:-}" in
  dump)
    mkdir -p /var/lib/slowdb/backup
    : > "$dump.tmp"
    for file in "$data"/*; do
      [ -f "$file" ] || continue
      printf '%s=%s\n' "$(basename "$file")" "$(cat "$file")" >> "$dump.tmp"
    done
    mv "$dump.tmp" "$dump"
    echo "db-tools: dumped $(wc -l < "$dump") entries"
    ;;
  load)
    [ -f "$dump" ] || { echo "db-tools: no dump at $dump" >&2; exit 1; }
    mkdir -p "$data"
    find "$data" -mindepth 1 -maxdepth 1 -type f ! -name .initialised -exec rm -f {} +
    while IFS='=' read -r key value; do
      [ -n "$key" ] && echo "$value" > "$data/$key"
    done < "$dump"
    echo "db-tools: loaded $(wc -l < "$dump") entries"
    ;;
  dump-clean)
    rm -f "$dump"
    ;;
  *)
    echo "usage: db-tools dump|load|dump-clean" >&2
    exit 2
    ;;
esac
