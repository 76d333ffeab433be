#!/usr/bin/env bash
# The chaos run: postings published while `jobcast worker` processes are killed with SIGKILL every few seconds
# and replaced, the broker restarts once, the platform stand-in fails 10% of requests with 500, 5% with
# timeouts and 3% with 429, and the WeChat token expires twice. About a fifth of the postings are corrected
# (some corrections published before the original, ordered by updatedAt), withdrawn, or withdrawn and reopened,
# and a few are scheduled (publishAt two minutes ahead, across the kills and the restart). Then the end state of
# every posting on both stand-ins is checked against the newest message sent for it, every invalid one in the
# dead queues, scheduled ones never early, the queues empty and the store's figures against the stand-ins'.
# Prints one table; exits 1 if anything is lost or a check fails.
#
#   scripts/chaos.sh                 # short (what scripts/test.sh runs): 1,000 postings, 3 workers, own node jobcast-chaos (5731)
#   scripts/chaos.sh --long          # 10,000 postings, 4 workers
#   scripts/chaos.sh --cluster       # against the three-node cluster of scripts/rabbitmq-cluster.sh (5741-5743):
#                                    #   the node leading jobcast.platform is stopped mid-run and started again
#   scripts/chaos.sh --long --cluster -- --seed 7     # anything after -- goes to jobcast-chaos (see its --help)
#
# Uses the binaries in JOBCAST_BUILD_DIR (default .build/debug; built there if missing), the PostgreSQL of
# scripts/start-postgres.sh (a database of the run's own, dropped after a run that passed) and writes the
# workers' logs, the postings and report.txt under var/chaos/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

long=0
cluster=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --long) long=1 ;;
    --cluster) cluster=1 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "usage: chaos.sh [--long] [--cluster] [-- jobcast-chaos options]" >&2; exit 64 ;;
    esac
    shift
done

build=${JOBCAST_BUILD_DIR:-.build/debug}
if [ ! -x "$build/jobcast-chaos" ] || [ ! -x "$build/jobcast" ]; then
    swift build --scratch-path "$(dirname "$build")" --product jobcast
    swift build --scratch-path "$(dirname "$build")" --product jobcast-chaos
fi

if [ "$cluster" = 1 ]; then
    echo "== starting the three-node RabbitMQ cluster (5741-5743)"
    scripts/rabbitmq-cluster.sh start >/dev/null
    nodes=(--node jobcast-c1:5741 --node jobcast-c2:5742 --node jobcast-c3:5743 --down-seconds 20 --publish-pause 6)
else
    echo "== starting the chaos RabbitMQ node (jobcast-chaos, 5731)"
    scripts/rabbitmq-node.sh start jobcast-chaos 5731
    nodes=(--node jobcast-chaos:5731 --down-seconds 5)
fi

echo "== creating the run's PostgreSQL database"
scripts/start-postgres.sh >/dev/null
stamp=$(date -u +%Y%m%dT%H%M%S)
database="chaos_${stamp,,}_$$"
psql_admin() { psql -h 127.0.0.1 -p "${JOBCAST_PGPORT:-55432}" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_admin -c "CREATE DATABASE $database OWNER jobcast"
run_dir="var/chaos/$stamp$([ "$cluster" = 1 ] && echo -cluster || true)"

if [ "$long" = 1 ]; then
    size=(--postings 10000 --workers 4 --kill-every 8 --publish-chunks 20 --publish-pause 5 --deadline 3600)
else
    size=(--postings 1000 --workers 3 --kill-every 6 --publish-chunks 10 --publish-pause 2 --deadline 1200)
fi

# The run uses copies of the binaries, so that a rebuild meanwhile cannot pull one from under it.
mkdir -p "$run_dir/bin"
cp "$build/jobcast" "$build/jobcast-chaos" "$run_dir/bin/"

echo "== chaos run (logs in $run_dir)"
status=0
"$run_dir/bin/jobcast-chaos" "${size[@]}" "${nodes[@]}" --jobcast "$run_dir/bin/jobcast" \
    --database-url "postgres://jobcast:jobcast@127.0.0.1:${JOBCAST_PGPORT:-55432}/$database" \
    --run-directory "$run_dir" "${extra[@]}" || status=$?
if [ "$status" = 0 ]; then
    psql_admin -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    rm -rf "$run_dir/bin"
else
    echo "chaos run failed (status $status): the store is kept in database $database, the logs in $run_dir" >&2
fi
exit "$status"
