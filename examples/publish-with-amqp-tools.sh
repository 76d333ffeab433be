#!/usr/bin/env bash
# Publish one job posting with amqp-publish from Debian's amqp-tools (apt-get install amqp-tools):
#
#   JOBCAST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F examples/publish-with-amqp-tools.sh [posting.json]
#
# The one-liner at the end is all there is: exchange jobcast.postings, routing key posting.publish, persistent
# (delivery_mode 2), content type application/json, the posting's JSON as the body (valid against
# Schemas/job-posting.schema.json). What amqp-publish cannot do: set message_id (the workers take the id from
# the body), publish mandatory, or wait for a publisher confirm. When a script must know that the broker has
# the posting, use `jobcast publish` or examples/publish_posting.py instead.
set -euo pipefail
url=${JOBCAST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}
url=${url%%,*}                                          # the first node of a comma-separated list
exchange=${JOBCAST_EXAMPLE_EXCHANGE:-jobcast.postings}  # tests use an exchange of their own
file=${1:-$(dirname "$0")/posting.json}

amqp-publish --url="$url" -e "$exchange" -r posting.publish -p -C application/json -b "$(cat "$file")"
