#!/usr/bin/env bash
# JobCast's main job on a fresh Debian 12 machine, as root, with the embedded defaults:
# installs what it needs, builds `jobcast`, starts a local RabbitMQ if none answers on JOBCAST_AMQP_URL
# (default amqp://guest:guest@127.0.0.1:5672/%2F), and checks the broker. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== building jobcast"
swift build --product jobcast
bin="$(swift build --show-bin-path)/jobcast"

url=${JOBCAST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}
if ! "$bin" ping >/dev/null 2>&1; then
    case "$url" in
    *@127.0.0.1:*|*@localhost:*|*@127.0.0.1/*|*@localhost/*)
        echo "== no broker answers on $(echo "$url" | sed -E 's#(//[^:/@]*):[^@]*@#\1:***@#'); starting the local RabbitMQ"
        rabbitmq-server -detached >/dev/null 2>&1 || true
        for _ in $(seq 1 60); do
            rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
            sleep 1
        done
        rabbitmq-diagnostics -q await_startup >/dev/null 2>&1 || true
        ;;
    *)
        echo "no broker answers on JOBCAST_AMQP_URL and it is not local: start it, or fix the URL" >&2
        ;;
    esac
fi
"$bin" ping
