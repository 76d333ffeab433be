#!/usr/bin/env bash
# How fast JobCast is, next to the limit of the machine, in one run on one machine (see README, "Benchmarks"):
# the ceiling (a raw rabbitmq-c publisher and consumer, Benchmarks/raw/raw_amqp.c), `jobcast publish` of
# 50,000 postings, the worker draining a 50,000-posting backlog into the outbox and to a local HTTP stand-in
# of the platform that answers at once, enqueue-to-delivered latency at half the worker's maximum, and the
# workers' peak memory. The runs alternate with the ceiling round by round; one table of medians, also
# written to var/bench/results.md.
#
#   scripts/bench.sh [--rounds N] [--postings N] [--tiny]
#
# A release build in SCRATCH (default .build). --tiny (what scripts/test.sh runs) uses the debug build that is
# already there, a few hundred postings and one round: it checks that everything works, never how fast.
# The RabbitMQ node is one of its own: jobcast-bench on 127.0.0.1:${BENCH_PORT:-5751}.
set -euo pipefail
cd "$(dirname "$0")/.."

config=release
args=()
for arg in "$@"; do
    [ "$arg" = "--tiny" ] && config=debug
    args+=("$arg")
done
scratch=${SCRATCH:-.build}
port=${BENCH_PORT:-5751}

scripts/install-deps.sh --tests
scripts/rabbitmq-node.sh start jobcast-bench "$port"
mkdir -p "$scratch" var/bench
cc=$(command -v cc || command -v gcc || command -v clang)
"$cc" -O2 -Wall -o "$scratch/raw_amqp" Benchmarks/raw/raw_amqp.c -lrabbitmq
echo "== building jobcast and jobcast-benchmark ($config)" >&2
swift build -c "$config" --scratch-path "$scratch" --product jobcast >&2
swift build -c "$config" --scratch-path "$scratch" --product jobcast-benchmark >&2
bin=$(swift build -c "$config" --scratch-path "$scratch" --show-bin-path)

"$bin/jobcast-benchmark" --port "$port" --jobcast "$bin/jobcast" --raw "$scratch/raw_amqp" \
    --broker-pid-file "$(realpath -m "${JOBCAST_RABBITMQ_BASE:-var/rabbitmq}")/jobcast-bench/pid" \
    --build "$config" --command "scripts/bench.sh${*:+ $*}" ${args[@]+"${args[@]}"}
