#!/usr/bin/env bash
# Installs what JobCast needs on Debian 12 (run as root). Swift itself is assumed present.
#   scripts/install-deps.sh          what the main job (scripts/run.sh) builds and runs with: RabbitMQ, rabbitmq-c
#                                    and pkg-config to build against it, CA certificates. Nothing else.
#   scripts/install-deps.sh --tests  that, plus what the tests and benchmarks use: PostgreSQL, amqp-tools, openssl
#                                    (the test CA), pika and jsonschema (the examples, the reference validator), and
#                                    the deployment checks' tools: docker-compose, prometheus (promtool), Chromium
#                                    and CJK fonts (the dashboard in a headless browser).
# Idempotent and quick when everything is already there: apt-get runs only for what is missing.
set -euo pipefail

tests=false
case "${1:-}" in
--tests) tests=true ;;
"") ;;
*)
    echo "usage: scripts/install-deps.sh [--tests]" >&2
    exit 64
    ;;
esac

packages=(rabbitmq-server librabbitmq-dev pkg-config ca-certificates)
if $tests; then
    packages+=(amqp-tools postgresql openssl python3-pip python3-pika
        # checks of the deployment files: `docker-compose config`, `promtool check`, the dashboard in headless Chromium
        docker-compose prometheus chromium fonts-noto-cjk)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the packaged services on install where it can; JobCast starts its own nodes.
fi

$tests || exit 0

# The reference JSON Schema implementation the contract tests compare the Swift validator with.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
    python3 -m pip install -q jsonschema 2>/dev/null || python3 -m pip install -q --break-system-packages jsonschema
fi

# pika for examples/publish_posting.py, for the python3 on PATH (python3-pika covers Debian's own).
if ! python3 -c 'import pika' 2>/dev/null; then
    python3 -m pip install -q pika 2>/dev/null || python3 -m pip install -q --break-system-packages pika
fi
