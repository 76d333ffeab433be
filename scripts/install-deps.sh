#!/usr/bin/env bash
# Installs what JobCast builds and runs with on Debian 12 (run as root). Swift itself is assumed present.
# Idempotent and quick when everything is already there: apt-get runs only for what is missing.
set -euo pipefail

packages=(rabbitmq-server librabbitmq-dev amqp-tools postgresql openssl pkg-config python3-pip python3-pika ca-certificates
    # checks of the deployment files: `docker-compose config`, `promtool check`, the dashboard in headless Chromium
    docker-compose prometheus chromium fonts-noto-cjk)
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

# The reference JSON Schema implementation the contract tests compare the Swift validator with.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
    python3 -m pip install -q jsonschema 2>/dev/null || python3 -m pip install -q --break-system-packages jsonschema
fi

# pika for examples/publish_posting.py, for the python3 on PATH (python3-pika covers Debian's own).
if ! python3 -c 'import pika' 2>/dev/null; then
    python3 -m pip install -q pika 2>/dev/null || python3 -m pip install -q --break-system-packages pika
fi
