#!/usr/bin/env bash
# The AMQP wrapper against the raw rabbitmq-c ceiling, in one run on one machine:
# persistent messages of SIZE bytes, publisher confirms with a window of WINDOW, consumers with prefetch
# PREFETCH acking each message. The C loop (Benchmarks/raw) and the Swift wrapper (Benchmarks/AMQPBenchmark)
# take turns ROUNDS times so that the machine's drift hits both alike; the table shows medians.
#
#   scripts/bench-amqp.sh [COUNT=50000] [ROUNDS=3]     (SIZE=1500 WINDOW=1000 PREFETCH=200 from the environment)
#
# Uses the test node (scripts/rabbitmq-node.sh start jobcast-test 5701 5702), started if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50000}
rounds=${2:-3}
size=${SIZE:-1500}
window=${WINDOW:-1000}
prefetch=${PREFETCH:-200}
port=5701
url="amqp://guest:guest@127.0.0.1:$port/%2F"

scripts/install-deps.sh --tests
scripts/rabbitmq-node.sh start jobcast-test $port 5702
mkdir -p .build
cc -O2 -Wall -o .build/raw_amqp Benchmarks/raw/raw_amqp.c -lrabbitmq
swift build -c release --product amqp-benchmark >/dev/null
swift_bin="$(swift build -c release --show-bin-path)/amqp-benchmark"

rate() { awk '{ printf "%.0f", $2 / $3 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -a raw_pub raw_con swift_pub swift_con
for round in $(seq 1 "$rounds"); do
    q="jobcast.bench.raw.$round.$$"
    raw_pub+=("$(.build/raw_amqp publish 127.0.0.1 $port "$q" "$count" "$size" "$window" | rate)")
    raw_con+=("$(.build/raw_amqp consume 127.0.0.1 $port "$q" "$count" "$prefetch" | rate)")
    scripts/rabbitmq-node.sh ctl jobcast-test -q delete_queue "$q" >/dev/null
    q="jobcast.bench.swift.$round.$$"
    swift_pub+=("$("$swift_bin" publish "$url" "$q" "$count" "$size" "$window" | rate)")
    swift_con+=("$("$swift_bin" consume "$url" "$q" "$count" "$prefetch" | rate)")
    scripts/rabbitmq-node.sh ctl jobcast-test -q delete_queue "$q" >/dev/null
    echo "round $round: raw publish ${raw_pub[-1]}/s consume ${raw_con[-1]}/s; wrapper publish ${swift_pub[-1]}/s consume ${swift_con[-1]}/s" >&2
done

rp=$(printf '%s\n' "${raw_pub[@]}" | median); rc=$(printf '%s\n' "${raw_con[@]}" | median)
sp=$(printf '%s\n' "${swift_pub[@]}" | median); sc=$(printf '%s\n' "${swift_con[@]}" | median)
echo
echo "AMQP wrapper vs raw rabbitmq-c — $count persistent ${size}-byte messages, confirm window $window, prefetch $prefetch, median of $rounds"
printf '%-10s %14s %14s %7s\n' "" "raw msg/s" "wrapper msg/s" "ratio"
printf '%-10s %14s %14s %7s\n' publish "$rp" "$sp" "$(awk -v a="$sp" -v b="$rp" 'BEGIN { printf "%.2f", a / b }')"
printf '%-10s %14s %14s %7s\n' consume "$rc" "$sc" "$(awk -v a="$sc" -v b="$rc" 'BEGIN { printf "%.2f", a / b }')"
