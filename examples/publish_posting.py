#!/usr/bin/env python3
"""Publish one job posting to JobCast exactly as the wire contract says (docs: ../README.md, "Publishing postings").

    JOBCAST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F python3 examples/publish_posting.py [posting.json]

Without a file it publishes the example posting below. The contract: exchange ``jobcast.postings`` (topic,
durable), routing key ``posting.<action>``, a UTF-8 JSON body valid against Schemas/job-posting.schema.json,
``content_type=application/json``, ``delivery_mode=2`` (persistent), ``message_id`` = the posting id,
``mandatory`` so that an unroutable posting is an error, and publisher confirms so that "published" means the
broker has it. Needs pika (``apt-get install python3-pika`` or ``pip install pika``).
"""
import json
import os
import sys

import pika

EXAMPLE = {
    "id": "putuo-2023-spring-example-1",
    "action": "publish",
    "employer": {"name": "上海博海餐饮集团有限公司", "creditCode": "91310107MA112648DL"},
    "title": "中餐厨师助理",
    "industry": "餐饮",
    "headcount": 20,
    "salary": {"min": 5500, "max": 7000},
    "location": {"city": "上海市", "district": "普陀区", "address": "中山北路2588号"},
    "contact": {"name": "邓经理", "phone": "021-52561288"},
    "validUntil": "2023-04-30",
    "benefits": ["包吃包住", "五险一金"],
    "sourceCounties": ["寻甸县"],
}


def publish(posting, url, exchange="jobcast.postings"):
    """Publishes one posting and returns once the broker has confirmed it; raises on an unroutable or refused one."""
    # The first node of a comma-separated list; a real script would try the others in turn.
    connection = pika.BlockingConnection(pika.URLParameters(url.split(",")[0].strip()))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange=exchange,
            routing_key="posting." + posting.get("action", "publish"),
            body=json.dumps(posting, ensure_ascii=False).encode("utf-8"),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                message_id=posting["id"],
            ),
            mandatory=True,
        )
    except pika.exceptions.UnroutableError:
        sys.exit("unroutable: no queue is bound to %s; run `jobcast topology` or start a worker" % exchange)
    except pika.exceptions.NackError:
        sys.exit("the broker refused the posting; publish it again later")
    finally:
        connection.close()


def main():
    url = os.environ.get("JOBCAST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    exchange = os.environ.get("JOBCAST_EXAMPLE_EXCHANGE", "jobcast.postings")  # tests use an exchange of their own
    posting = EXAMPLE
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            posting = json.load(f)
    publish(posting, url, exchange)
    print("published", posting["id"])


if __name__ == "__main__":
    main()
