#!/usr/bin/env bash
# Starts a private PostgreSQL for the store tests and the store benchmark, and prints its URL.
#
#   scripts/start-postgres.sh            # start (or find already running) and print the URL
#   scripts/start-postgres.sh stop       # stop it
#
# Idempotent. Installs Debian's `postgresql` if initdb is missing. The server has its own data
# directory (JOBCAST_PGDATA, default /tmp/jobcast-pgdata) owned by the `postgres` user (so it works
# when run as root), listens on 127.0.0.1 only, port JOBCAST_PGPORT (default 55432), and has a role
# and database jobcast/jobcast. Tests read JOBCAST_TEST_POSTGRES_URL; the URL printed is its default.
set -euo pipefail

PORT="${JOBCAST_PGPORT:-55432}"
PGDATA_DIR="${JOBCAST_PGDATA:-/tmp/jobcast-pgdata}"
LOG="${PGDATA_DIR}.log"
URL="postgres://jobcast:jobcast@127.0.0.1:${PORT}/jobcast"

find_bin() {
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

if ! BIN="$(find_bin)"; then
    echo "start-postgres: installing postgresql (initdb not found)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
fi

# Run a PostgreSQL binary as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = stop ]; then
    if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
        as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >&2
    fi
    exit 0
fi

if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    mkdir -p "$PGDATA_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDATA_DIR"; fi
    chmod 700 "$PGDATA_DIR"
    as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2
fi

if ! as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    touch "$LOG"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$LOG"; fi
    # Sockets in the data directory, TCP on loopback only.
    as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$PGDATA_DIR -c max_connections=200" >&2
fi

for _ in $(seq 1 60); do
    if "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then break; fi
    sleep 0.5
done
"$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" >&2

psql_admin() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'jobcast'")" != 1 ]; then
    psql_admin -c "CREATE ROLE jobcast LOGIN PASSWORD 'jobcast'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'jobcast'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE jobcast OWNER jobcast"
fi

echo "$URL"
