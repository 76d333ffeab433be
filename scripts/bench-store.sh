#!/usr/bin/env bash
# Measures the delivery store's batched inserts per second on SQLite and on PostgreSQL.
#
#   scripts/bench-store.sh [extra store-bench options, e.g. --outcomes 100000 --batch-sizes 1 200 1000]
#
# Builds jobcast in release mode (scratch folder .build-release), starts the test PostgreSQL
# (scripts/start-postgres.sh) and runs the hidden `jobcast store-bench` on both databases. Each run
# writes to a scratch database (temporary SQLite file, or its own PostgreSQL schema, dropped after).
# Prints figures only; nothing asserts timings.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --scratch-path .build-release --product jobcast >&2
bin=.build-release/release/jobcast
url="$(scripts/start-postgres.sh)"

echo "# $(uptime)"
"$bin" store-bench "$@"
"$bin" store-bench --database-url "$url" "$@"
