#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine, as root:
#   installs what the tests need, starts a RabbitMQ node (127.0.0.1:5701, TLS on 5702) and a PostgreSQL
#   (127.0.0.1:55432) of their own, builds, and runs every test against them. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests
echo "== starting the test RabbitMQ node (127.0.0.1:5701, amqps 5702)"
scripts/rabbitmq-node.sh start jobcast-test 5701 5702
# The tests leave their virtual hosts while they run (deleting them mid-run once wedged RabbitMQ 3.10), and runs of
# single suites (`swift test --filter …`) leave theirs too: each holds file handles. One by one through rabbitmqctl
# they took seconds each (hundreds after a day of work), so the node starts afresh instead when any are left.
leftover=$(timeout 60 scripts/rabbitmq-node.sh ctl jobcast-test -q list_vhosts 2>/dev/null | grep -cE '^jobcast-(test|console)-' || true)
if [ "${leftover:-0}" != 0 ] || ! timeout 60 scripts/rabbitmq-node.sh ctl jobcast-test -q list_vhosts >/dev/null 2>&1; then
    echo "== the test node holds ${leftover:-?} virtual hosts of earlier test runs (or does not answer): starting it afresh"
    scripts/rabbitmq-node.sh reset jobcast-test 5701 5702
fi
echo "== starting the restart-test RabbitMQ node (127.0.0.1:5711; only the publisher's restart test stops it)"
scripts/rabbitmq-node.sh start jobcast-restart 5711
echo "== starting the worker-restart RabbitMQ node (127.0.0.1:5713; only the worker's restart test stops it)"
scripts/rabbitmq-node.sh start jobcast-worker-restart 5713
if [ -x scripts/start-postgres.sh ]; then
    echo "== starting the test PostgreSQL"
    scripts/start-postgres.sh
fi

echo "== checking deploy/ (promtool: Prometheus configuration, alert rules and their unit tests; Grafana files)"
scripts/check-deploy.sh
echo "== building"
swift build --build-tests
echo "== checking docker-compose.yml, .env.example, the Dockerfile and the README against \`jobcast config\` (no Docker engine)"
scripts/check-compose.sh
echo "== testing"
swift test --skip-build
echo "== fuzz targets (Tests/Fuzz): built with libFuzzer and AddressSanitizer (5-11 min the first time), 20,000 runs per"
echo "   target, the seeds replayed through every target, the validator against jsonschema on the corpus (FUZZ=0: replay only)"
if [ "${FUZZ:-1}" = 0 ]; then scripts/fuzz.sh --if-built; else scripts/fuzz.sh; fi
echo "== benchmark, tiny mode: 300 postings, one round; checks that scripts/bench.sh works, never how fast"
scripts/bench.sh --tiny
echo "== chaos run (short): 1,000 postings, workers killed, RabbitMQ restarted, platform faults, WeChat token expired; nothing lost"
scripts/chaos.sh
echo "== chaos run (short) against a three-node RabbitMQ cluster: the leader of jobcast.platform stopped and started"
scripts/chaos.sh --cluster
