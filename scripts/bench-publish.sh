#!/usr/bin/env bash
# `jobcast publish` against the raw rabbitmq-c ceiling, in one run on one machine: COUNT postings of the samples'
# size (the 59 samples again and again under new ids, as JSON Lines), persistent, publisher confirms with a window
# of WINDOW. Both publish through the default exchange to a durable classic queue (jobcast with --exchange ""
# and routing key posting.publish, so to a queue of that name; raw_amqp to a queue of its own), and they take
# turns ROUNDS times so that the machine's drift hits both alike; the table shows medians.
#
#   scripts/bench-publish.sh [COUNT=50000] [ROUNDS=3]     (WINDOW=1000, SCRATCH=.build, CONFIG=release from the environment)
#
# "jobcast publish" is the whole command (read, validate, publish, confirm); "jobcast publishing" is its own
# figure for the publishing phase only (confirmed postings per second, from its --json summary).
# Uses the test node (scripts/rabbitmq-node.sh start jobcast-test 5701 5702), started if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50000}
rounds=${2:-3}
window=${WINDOW:-1000}
scratch=${SCRATCH:-.build}
config=${CONFIG:-release}
port=5701
url="amqp://guest:guest@127.0.0.1:$port/%2F"

scripts/install-deps.sh --tests
scripts/rabbitmq-node.sh start jobcast-test $port 5702
mkdir -p "$scratch" var/bench
cc -O2 -Wall -o "$scratch/raw_amqp" Benchmarks/raw/raw_amqp.c -lrabbitmq
swift build -c "$config" --scratch-path "$scratch" --product jobcast >/dev/null
jobcast="$(swift build -c "$config" --scratch-path "$scratch" --show-bin-path)/jobcast"

input=var/bench/postings-$count.jsonl
if [ ! -f "$input" ]; then
    python3 - "$count" "$input" <<'PY'
import json, sys
count, path = int(sys.argv[1]), sys.argv[2]
samples = [json.loads(line) for line in open("Samples/spring-job-fair.jsonl", encoding="utf-8") if line.strip()]
with open(path, "w", encoding="utf-8") as out:
    for i in range(count):
        posting = dict(samples[i % len(samples)], id="bench-%d" % i)
        out.write(json.dumps(posting, ensure_ascii=False, separators=(",", ":")) + "\n")
PY
fi
size=$(( $(wc -c < "$input") / count ))

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
fresh_queue() {
    scripts/rabbitmq-node.sh ctl jobcast-test -q delete_queue "$1" >/dev/null 2>&1 || true
    amqp-declare-queue --url="$url" -d -q "$1" >/dev/null
}

declare -a raw jc jc_phase
for round in $(seq 1 "$rounds"); do
    q="jobcast.bench.raw.$round.$$"
    raw+=("$("$scratch/raw_amqp" publish 127.0.0.1 $port "$q" "$count" "$size" "$window" | awk '{ printf "%.0f", $2 / $3 }')")
    scripts/rabbitmq-node.sh ctl jobcast-test -q delete_queue "$q" >/dev/null
    fresh_queue posting.publish
    start=$(date +%s.%N)
    # The samples' dates are the 2023 fair's: publish as of a morning of it, when every posting is open.
    summary=$(JOBCAST_NOW=2023-03-01T09:00:00+08:00 JOBCAST_AMQP_URL=$url "$jobcast" publish "$input" --json --exchange "" --window "$window")
    end=$(date +%s.%N)
    jc+=("$(awk -v n="$count" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')")
    jc_phase+=("$(printf '%s' "$summary" | python3 -c 'import json, sys; print(round(json.load(sys.stdin)["rate"]))')")
    scripts/rabbitmq-node.sh ctl jobcast-test -q delete_queue posting.publish >/dev/null
    echo "round $round: raw ${raw[-1]}/s; jobcast publish ${jc[-1]}/s (publishing phase ${jc_phase[-1]}/s)" >&2
done

r=$(printf '%s\n' "${raw[@]}" | median); j=$(printf '%s\n' "${jc[@]}" | median); p=$(printf '%s\n' "${jc_phase[@]}" | median)
echo
echo "jobcast publish ($config build) vs raw rabbitmq-c — $count persistent postings of ~$size bytes, confirm window $window, median of $rounds"
printf '%-28s %12s %7s\n' "" "postings/s" "ratio"
printf '%-28s %12s %7s\n' "raw rabbitmq-c" "$r" "1.00"
printf '%-28s %12s %7s\n' "jobcast publish (whole run)" "$j" "$(awk -v a="$j" -v b="$r" 'BEGIN { printf "%.2f", a / b }')"
printf '%-28s %12s %7s\n' "jobcast publishing phase" "$p" "$(awk -v a="$p" -v b="$r" 'BEGIN { printf "%.2f", a / b }')"
