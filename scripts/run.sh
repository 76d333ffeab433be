#!/usr/bin/env bash
# JobCast's main job on a fresh Debian 12 machine, as root, with the embedded defaults: installs what it
# needs, builds `jobcast`, starts a local RabbitMQ if none answers on JOBCAST_AMQP_URL (default
# amqp://guest:guest@127.0.0.1:5672/%2F), declares the topology, publishes the spring job fair's 59 postings
# (38 employers, 49,228 positions), runs a worker for both channels until the queues are empty, and prints
# `jobcast stats`. With no platform URL and no WeChat app id set, both channels write to the outbox
# (var/outbox/). The store is SQLite (var/jobcast.sqlite). Safe to run again: a second run's postings are
# recognised as already delivered and counted as duplicates.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building jobcast"
swift build --product jobcast 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/jobcast"

url=${JOBCAST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}
if ! "$bin" ping >/dev/null 2>&1; then
    case "$url" in
    *@127.0.0.1:*|*@localhost:*|*@127.0.0.1/*|*@localhost/*|amqp://127.0.0.1*|amqp://localhost*)
        echo "== no broker answers on $(echo "$url" | sed -E 's#(//[^:/@]*):[^@]*@#\1:***@#'); starting the local RabbitMQ"
        rabbitmq-server -detached >/dev/null 2>&1 || true
        rabbitmqctl -q await_startup --timeout 90 >/dev/null 2>&1 || true
        for _ in $(seq 1 90); do
            "$bin" ping >/dev/null 2>&1 && break
            sleep 1
        done
        ;;
    *)
        echo "no broker answers on JOBCAST_AMQP_URL and it is not on this machine: start it, or fix the URL" >&2
        exit 3
        ;;
    esac
fi
"$bin" ping

echo "== declaring the topology"
"$bin" topology >/dev/null
echo "== publishing Samples/spring-job-fair.jsonl"
# The samples are the February 2023 fair: their dates move with the day of the run (2023-03-01 becomes today).
"$bin" publish --dates-relative-to 2023-03-01 Samples/spring-job-fair.jsonl
echo "== delivering (jobcast worker --until-empty)"
JOBCAST_WECHAT_DIGEST_WINDOW=${JOBCAST_WECHAT_DIGEST_WINDOW:-2} "$bin" worker --until-empty
echo "== delivery figures"
"$bin" stats
outbox=${JOBCAST_OUTBOX_DIR:-var/outbox}
echo
echo "outbox: $(find "$outbox/platform" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l) platform job files in $outbox/platform/, \
$(find "$outbox/wechat" -name 'article-*.html' 2>/dev/null | wc -l) WeChat article pages in $outbox/wechat/"
echo
echo "dashboard: run  $bin dashboard  and open http://${JOBCAST_DASHBOARD_HOST:-127.0.0.1}:${JOBCAST_DASHBOARD_PORT:-9465}/ \
(charts of these figures, refreshed live; Ctrl-C stops it)"
