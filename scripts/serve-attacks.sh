#!/usr/bin/env bash
# `ccci serve` under attack (issue "ccci serve under attack"): a real `ccci serve` process against
# the forge stub on loopback, every class of the issue tried in turn — event streams that outlive
# their run or their client and 2,000-stream floods; replayed deliveries; a repository named like a
# recipe; !testme racing a push; a 2,055-job queue; the forge's port closed; run files that are
# symlinks; markdown in a comment; secret files; names the forge would never send; slow clients,
# parallel 1 MiB bodies, a locked store, HEAD, the security headers, a closed pull request, a
# reader's repeated !testme — and, last, SIGTERM with 200 streams open and a real run of `web` on
# the lab.
#
#   scripts/serve-attacks.sh [--races N] [--streams N]
#
# Prints one row per case: class, case, HTTP statuses, jobs queued, replies sent, crash, the
# server's descriptors and resident memory before → after, and what the case showed. Exit 1 when a
# case did not show what it should. Builds ccci and ccci-bench in release mode (as a node runs
# them). Needs the lab (`scripts/lab up`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/opt/swift/usr/bin:$PATH"
echo "building ccci and ccci-bench (release) …" >&2
swift build -c release --product ccci 2>&1 | grep -E "error|warning: .*Sources" >&2 || true
swift build -c release --product ccci-bench 2>&1 | grep -E "error|warning: .*(Sources|Benchmarks)" >&2 || true
exec .build/release/ccci-bench serve-attacks "$@"
