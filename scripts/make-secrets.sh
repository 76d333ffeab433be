#!/usr/bin/env bash
# Writes the secret files docker-compose.yml mounts (secrets/README.md lists them), with random passwords.
# Never overwrites a file that exists, so it is safe to run again; delete a file to make it anew.
#
#   scripts/make-secrets.sh            # into secrets/
#   scripts/make-secrets.sh DIR        # into DIR (the compose check uses a temporary one)
#
# The files are world-readable (0644) inside a 0700 folder: the containers' users (jobcast, rabbitmq,
# postgres, grafana) read them through the bind mount, other users of this machine cannot reach them.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-secrets}"
mkdir -p "$DIR"
chmod 700 "$DIR"

random() { openssl rand -hex 24; }

write() { # NAME CONTENT
    local path="$DIR/$1"
    if [ -e "$path" ]; then
        echo "kept    $path"
        return
    fi
    (umask 022 && printf '%s\n' "$2" >"$path")
    echo "wrote   $path"
}

# Passwords that two files share are written together, or not at all.
if [ ! -e "$DIR/amqp_url" ] || [ ! -e "$DIR/rabbitmq_credentials.conf" ]; then
    rm -f "$DIR/amqp_url" "$DIR/rabbitmq_credentials.conf"
    amqp_password="$(random)"
    write amqp_url "amqp://jobcast:${amqp_password}@rabbitmq:5672/%2F"
    write rabbitmq_credentials.conf "default_user = jobcast
default_pass = ${amqp_password}"
fi
if [ ! -e "$DIR/database_url" ] || [ ! -e "$DIR/postgres_password" ]; then
    rm -f "$DIR/database_url" "$DIR/postgres_password"
    db_password="$(random)"
    write postgres_password "$db_password"
    write database_url "postgres://jobcast:${db_password}@postgres:5432/jobcast"
fi
write http_token "$(random)"
write grafana_admin_password "$(random)"
# Placeholders: the real values come from the platform's operator and the WeChat account's admin page.
write platform_token "replace-with-the-platform-api-token"
write wechat_secret "replace-with-the-wechat-app-secret"
