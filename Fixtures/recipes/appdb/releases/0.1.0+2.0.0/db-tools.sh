#!/bin/sh
# appdb backup hooks: `dump` writes a consistent dump of every key into the backed-up
# directory, `load` replaces the live data with the dump, `dump-clean` removes the dump.
set -eu
data=/var/lib/db/data
dump=/var/lib/db/backup/dump.txt
case "${1:-}" in
  dump)
    mkdir -p /var/lib/db/backup
    : > "$dump.tmp"
    for file in "$data"/*; do
      [ -f "$file" ] || continue
      printf '%s=%s\n' "$(basename "$file")" "$(cat "$file")" >> "$dump.tmp"
    done
    mv "$dump.tmp" "$dump"
    echo "db-tools: dumped $(wc -l < "$dump") keys"
    ;;
  load)
    [ -f "$dump" ] || { echo "db-tools: no dump at $dump" >&2; exit 1; }
    rm -rf "$data" && mkdir -p "$data"
    while IFS='=' read -r key value; do
      [ -n "$key" ] && echo "$value" > "$data/$key"
    done < "$dump"
    echo "db-tools: loaded $(wc -l < "$dump") keys"
    ;;
  dump-clean)
    rm -f "$dump"
    ;;
  *)
    echo "usage: db-tools dump|load|dump-clean" >&2
    exit 2
    ;;
esac
