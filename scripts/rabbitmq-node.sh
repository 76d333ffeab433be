#!/usr/bin/env bash
# Starts (or stops) a RabbitMQ node of its own: own name, ports and data directory, so that tests never
# touch a broker someone else uses. Idempotent: a node that already answers is left running.
#
#   scripts/rabbitmq-node.sh start NAME AMQP_PORT [TLS_PORT]   # prints nothing on success
#   scripts/rabbitmq-node.sh stop NAME
#   scripts/rabbitmq-node.sh reset NAME AMQP_PORT [TLS_PORT]   # stop (or kill), wipe its data, start again
#   scripts/rabbitmq-node.sh ctl NAME rabbitmqctl-args…        # e.g. list_queues
#
# Data lives in ${JOBCAST_RABBITMQ_BASE:-var/rabbitmq}/NAME (owned by the rabbitmq user, as Debian's server
# drops to it). With TLS_PORT, a CA and a server certificate for the name localhost (not for 127.0.0.1) are made with openssl
# under NAME/tls (ca.pem is what clients trust; other-ca.pem is a second CA for negative tests).
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: rabbitmq-node.sh start|stop|reset|ctl NAME …}
name=${2:?node name}
base=$(realpath -m "${JOBCAST_RABBITMQ_BASE:-var/rabbitmq}")
dir="$base/$name"
node="$name@localhost"

as_rabbitmq() {
    runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq \
        RABBITMQ_NODENAME="$node" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/pid" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_DIST_PORT="${dist_port:-25999}" \
        "$@"
}

ensure_installed() {
    if ! command -v rabbitmq-server >/dev/null || ! id rabbitmq >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    command -v openssl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
}

make_certs() {
    local tls="$dir/tls"
    [ -f "$tls/server.pem" ] && return
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=JobCast test CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Other CA" \
        -keyout "$tls/other-ca.key" -out "$tls/other-ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' > "$tls/san.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 3650 -extfile "$tls/san.ext" -out "$tls/server.pem" 2>/dev/null
    chmod 644 "$tls"/*.pem "$tls"/*.key
}

case "$action" in
start)
    amqp_port=${3:?AMQP port}
    tls_port=${4:-}
    dist_port=$((amqp_port + 20000))
    ensure_installed
    mkdir -p "$dir/mnesia" "$dir/log"
    {
        echo "listeners.tcp.default = 127.0.0.1:$amqp_port"
        echo "loopback_users = none"
        echo "log.file.level = warning"
        if [ -n "$tls_port" ]; then
            make_certs
            echo "listeners.ssl.default = 127.0.0.1:$tls_port"
            echo "ssl_options.cacertfile = $dir/tls/ca.pem"
            echo "ssl_options.certfile = $dir/tls/server.pem"
            echo "ssl_options.keyfile = $dir/tls/server.key"
            echo "ssl_options.verify = verify_none"
            echo "ssl_options.fail_if_no_peer_cert = false"
        fi
    } > "$dir/rabbitmq.conf"
    [ -f "$dir/enabled_plugins" ] || echo "[]." > "$dir/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$dir"
    chmod 755 "$base" "$dir"
    if as_rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -q status >/dev/null 2>&1; then
        exit 0
    fi
    # RabbitMQ's file handle cache takes its limit from the open-files limit; at Debian's default of 1,024 a test run
    # (dozens of virtual hosts, each with its message stores and queues, and hundreds of connections) used them all:
    # logins and new virtual hosts then waited for handles that never came. What a systemd unit of the package gets.
    # (runuser's PAM session sets the soft limit back to 1,024, so the node raises it itself, up to the hard limit.)
    ulimit -Hn 65536 2>/dev/null || true
    as_rabbitmq sh -c 'ulimit -n "$(ulimit -Hn)"; exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached' >/dev/null 2>&1 || true
    for _ in $(seq 1 120); do
        if as_rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
            exit 0
        fi
        sleep 1
    done
    echo "RabbitMQ node $node did not start; see $dir/log" >&2
    tail -n 30 "$dir/log/"*.log >&2 2>/dev/null || true
    exit 1
    ;;
stop)
    as_rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1 || true
    ;;
reset)
    # Stopped (killed if it does not stop within a minute: a node out of file handles may not), its data wiped, and
    # started again with no virtual hosts but /: for a test node whose earlier runs left more than it can hold.
    timeout 60 "$0" stop "$name" || true
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        kill -9 "$(cat "$dir/pid")" 2>/dev/null || true
        sleep 2
    fi
    rm -rf "$dir/mnesia"
    shift 2
    exec "$0" start "$name" "$@"
    ;;
ctl)
    shift 2
    as_rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl "$@"
    ;;
*)
    echo "unknown action $action" >&2
    exit 2
    ;;
esac
