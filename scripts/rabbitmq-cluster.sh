#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, for the chaos run against a cluster (scripts/chaos.sh --cluster):
# nodes jobcast-c1@localhost, jobcast-c2@localhost, jobcast-c3@localhost on 127.0.0.1:5741, 5742, 5743, each
# started by scripts/rabbitmq-node.sh (own data directory owned by the rabbitmq user, distribution port
# AMQP port + 20000, the rabbitmq user's Erlang cookie shared by all three), c2 and c3 joined to c1 with
# `rabbitmqctl join_cluster`. Idempotent.
#
#   scripts/rabbitmq-cluster.sh start     # start the three nodes and join them; prints the JOBCAST_AMQP_URL list
#   scripts/rabbitmq-cluster.sh status    # rabbitmqctl cluster_status from a live node
#   scripts/rabbitmq-cluster.sh stop      # stop all three
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=(jobcast-c1:5741 jobcast-c2:5742 jobcast-c3:5743)
first=${nodes[0]%%:*}

running_nodes() {
    scripts/rabbitmq-node.sh ctl "$1" -q cluster_status --formatter json 2>/dev/null \
        | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin).get("running_nodes", [])))' 2>/dev/null || true
}

case "${1:-}" in
start)
    # All three at once: a node that was not the last of its cluster to stop waits for the others' tables when it
    # starts again (after a reboot, say), so starting them one after the other would wait for good.
    pids=()
    for entry in "${nodes[@]}"; do
        scripts/rabbitmq-node.sh start "${entry%%:*}" "${entry##*:}" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    for entry in "${nodes[@]:1}"; do
        name=${entry%%:*}
        if [[ " $(running_nodes "$name") " != *" $first@localhost "* ]]; then
            scripts/rabbitmq-node.sh ctl "$name" -q stop_app >/dev/null 2>&1
            scripts/rabbitmq-node.sh ctl "$name" -q reset >/dev/null 2>&1
            scripts/rabbitmq-node.sh ctl "$name" -q join_cluster "$first@localhost" >/dev/null 2>&1
            scripts/rabbitmq-node.sh ctl "$name" -q start_app >/dev/null 2>&1
        fi
    done
    for _ in $(seq 1 60); do
        members=$(running_nodes "$first")
        [ "$(wc -w <<<"$members")" -ge 3 ] && break
        sleep 1
    done
    members=$(running_nodes "$first")
    if [ "$(wc -w <<<"$members")" -lt 3 ]; then
        echo "the cluster did not form: running nodes seen from $first: $members" >&2
        exit 1
    fi
    urls=()
    for entry in "${nodes[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:${entry##*:}/%2F"); done
    (IFS=,; echo "${urls[*]}")
    ;;
status)
    for entry in "${nodes[@]}"; do
        if scripts/rabbitmq-node.sh ctl "${entry%%:*}" cluster_status 2>/dev/null; then exit 0; fi
    done
    echo "no node of the cluster answers" >&2
    exit 1
    ;;
stop)
    for entry in "${nodes[@]}"; do scripts/rabbitmq-node.sh stop "${entry%%:*}"; done
    ;;
*)
    echo "usage: rabbitmq-cluster.sh start|status|stop" >&2
    exit 2
    ;;
esac
