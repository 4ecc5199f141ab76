#!/usr/bin/env python3
"""plain-flow.py: the order flow as a plain single-process script.

The reference of issue 11: what a user would write in an afternoon with
confluent-kafka and psycopg 3, to compare ecom-bench against
(doc/performance-notes.md has the figures).  bench/plain-flow.sh makes
its virtualenv and runs it with the dev stack's ECOM_* variables.

Design
- One process, one thread, one producer and one consumer; the consumer
  is subscribed to all five topics (ordercreated ... orderfulfilled) and
  handles one message at a time.
- The latency settings of ecom (src/lib/ecom_kafka.c): producer
  linger.ms=0, socket.nagle.disable=true, enable.idempotence=true,
  acks=all; consumer fetch.wait.max.ms=500, socket.nagle.disable=true,
  enable.auto.offset.store=false (the offset is stored by hand after the
  message is processed), auto commit every second.
- Per message: json.loads, one prepared INSERT ... VALUES ... ON CONFLICT
  (event_id) DO NOTHING into the table of its topic (autocommit: one
  statement, one transaction), produce the next event (key = order id),
  flush the producer (the next event is acknowledged before the offset
  is stored, as ecom does), store the offset.
- orderfulfilled: if the insert was new, mark the order (the store's
  UPDATE ... jsonb_set ... WHERE event_id = $1 AND NOT order_is_fulfilled),
  then, every --count-every orders (default 1, as the original) and at
  the end, compare count(*) of ordercreated with count(*) of
  orderfulfilled (a mismatch stops the run), then produce the next order.
- --window W keeps W orders in flight (default 1: the next order is
  created when the previous one is fulfilled).
- Tables: the schema of ecom's PostgreSQL store (src/lib/ecom_store_pg.c)
  in schema --schema (default plainflow), emptied at start; topics
  deleted and created again at start; a fresh consumer group per run.
- The clock runs from the first order produced to the last one
  fulfilled, as ecom-bench's elapsed_s; the consumer has its partitions
  before the first order.  One JSON line on stdout (orders, window,
  elapsed_s, orders_per_s, library versions); progress on stderr.

No dead-letter topic, no retries, no signal handling: an afternoon's
script.  Exit 0, 1 on a failure (count mismatch, Kafka or PostgreSQL
error), 2 on bad arguments.
"""
import argparse
import datetime
import json
import os
import sys
import time
import uuid

import confluent_kafka
import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from psycopg import sql
from confluent_kafka.admin import AdminClient, NewTopic

TYPES = ["ordercreated", "paymentcompleted", "inventoryupdated", "ordershipped", "orderfulfilled"]
LINE_ITEMS = [
    ("70c18573-bcbe-4785-bc98-5715f5af52ca", 20, "widget", "a widget", "13.99"),
    ("bdfbd391-d226-4df5-afd3-c78738d2cae9", 20, "widget holder", "a widget holder", "3.99"),
    ("efbef64a-bb4c-4afb-a56b-0e7ccf34247d", 1, "widget stacker", "a widget stacker", "4.99"),
    ("9f22ecf1-fa07-4aa3-ad82-53e8ae71b2b4", 1, "widget cleaner", "a widget cleaner", "6.99"),
]
ORDER_PRICE = "371.58"  # sum of quantity x price above


def now_iso():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def new_order():
    now = now_iso()
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "ordercreated",
        "eventCreatedDate": now,
        "payload": {
            "orderCreatedDate": now,
            "orderShippedDate": None,
            "lineItems": [
                {"itemInventoryId": i, "quantity": q, "itemName": n, "itemDescription": d,
                 "itemPrice": p}
                for i, q, n, d, p in LINE_ITEMS
            ],
            "orderPrice": ORDER_PRICE,
            "orderIsFulfilled": False,
        },
    }


def next_event(ev):
    now = now_iso()
    kind = ev["eventType"]
    if kind == "ordercreated":
        return "paymentcompleted", {"paymentCompletedDate": now,
                                    "paymentAmount": ev["payload"]["orderPrice"]}
    if kind == "paymentcompleted":
        return "inventoryupdated", {"inventoryUpdateCompletedDate": now}
    if kind == "inventoryupdated":
        return "ordershipped", {"orderShipmentDate": now, "shippingDays": 2}
    return "orderfulfilled", {"orderFulfillmentDate": now}


def create_tables(db, schema):
    s = sql.Identifier(schema).as_string(db)
    rest = "event_id uuid PRIMARY KEY, event_created_date timestamptz NOT NULL, doc jsonb NOT NULL"
    db.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    db.execute(f"CREATE TABLE IF NOT EXISTS {s}.ordercreated ({rest},"
               " order_price numeric(12,2) NOT NULL, order_is_fulfilled boolean NOT NULL,"
               " order_shipped_date timestamptz)")
    for t in TYPES[1:]:
        db.execute(f"CREATE TABLE IF NOT EXISTS {s}.{t} ({rest})")
    db.execute(f"TRUNCATE {', '.join(f'{s}.{t}' for t in TYPES)}")
    return s


def reset_topics(brokers, topics):
    admin = AdminClient({"bootstrap.servers": brokers})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in topics if t in existing]
    if doomed:
        for f in admin.delete_topics(doomed, operation_timeout=30).values():
            f.result()
    deadline = time.monotonic() + 60
    todo = list(topics)
    while todo:  # a deleted topic may still be on its way out
        futures = admin.create_topics([NewTopic(t, 1, 1) for t in todo])
        todo = []
        for t, f in futures.items():
            try:
                f.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                    raise
                todo.append(t)
        if todo:
            time.sleep(0.2)
    while True:  # until every new partition has a leader
        meta = admin.list_topics(timeout=10).topics
        if all(t in meta and not meta[t].error and meta[t].partitions and
               all(p.leader >= 0 for p in meta[t].partitions.values()) for t in topics):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("plain-flow: the topics have no leader within 60 s")
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description="The order flow as a plain single-process script.")
    ap.add_argument("-n", "--orders", type=int, default=1000)
    ap.add_argument("-w", "--window", type=int, default=1)
    ap.add_argument("--count-every", type=int, default=1,
                    help="compare the counts every K orders and at the end (default 1)")
    ap.add_argument("--brokers", default=os.environ.get("ECOM_KAFKA_BROKERS"))
    ap.add_argument("--postgres", default=os.environ.get("ECOM_POSTGRES_URI"))
    ap.add_argument("--schema", default="plainflow")
    ap.add_argument("--topic-prefix", default=os.environ.get("ECOM_TOPIC_PREFIX", ""))
    args = ap.parse_args()
    if not args.brokers or not args.postgres:
        ap.error("set ECOM_KAFKA_BROKERS and ECOM_POSTGRES_URI (or --brokers, --postgres)")
    if args.orders < 1 or args.window < 1 or args.count_every < 1:
        ap.error("--orders, --window and --count-every must be at least 1")

    topic = {t: args.topic_prefix + t for t in TYPES}
    kind_of = {v: k for k, v in topic.items()}
    db = psycopg.connect(args.postgres, autocommit=True)
    s = create_tables(db, args.schema)
    reset_topics(args.brokers, list(topic.values()))

    insert_sql = {t: f"INSERT INTO {s}.{t} (event_id, event_created_date, doc)"
                     " VALUES (%s::uuid, %s::timestamptz, %s::jsonb)"
                     " ON CONFLICT (event_id) DO NOTHING" for t in TYPES[1:]}
    insert_sql["ordercreated"] = (
        f"INSERT INTO {s}.ordercreated (event_id, event_created_date, doc, order_price,"
        " order_is_fulfilled, order_shipped_date)"
        " VALUES (%s::uuid, %s::timestamptz, %s::jsonb, %s::numeric, %s, %s::timestamptz)"
        " ON CONFLICT (event_id) DO NOTHING")
    mark_sql = (f"UPDATE {s}.ordercreated SET order_is_fulfilled = true,"
                " order_shipped_date = %s::timestamptz,"
                " doc = jsonb_set(jsonb_set(doc, '{payload,orderIsFulfilled}', 'true'),"
                " '{payload,orderShippedDate}', to_jsonb(%s::text))"
                " WHERE event_id = %s::uuid AND NOT order_is_fulfilled")
    count_created_sql = f"SELECT count(*) FROM {s}.ordercreated"
    count_fulfilled_sql = f"SELECT count(*) FROM {s}.orderfulfilled"

    producer = Producer({"bootstrap.servers": args.brokers, "linger.ms": 0,
                         "socket.nagle.disable": True, "enable.idempotence": True,
                         "acks": "all"})
    assigned = []
    consumer = Consumer({"bootstrap.servers": args.brokers,
                         "group.id": f"plain-flow-{os.getpid()}-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 500,
                         "socket.nagle.disable": True, "enable.auto.offset.store": False,
                         "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
    consumer.subscribe(list(topic.values()), on_assign=lambda c, ps: assigned.extend(ps))
    deadline = time.monotonic() + 60
    while len(assigned) < len(TYPES):
        msg = consumer.poll(0.1)
        if msg is not None and not (msg.error() and
                                    msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            sys.exit(f"plain-flow: {msg.error() or 'a message'} before the run started")
        if time.monotonic() > deadline:
            sys.exit("plain-flow: no partitions assigned within 60 s")

    def send(ev):
        producer.produce(topic[ev["eventType"]], key=ev["eventId"], value=json.dumps(ev))

    order_started = {}  # order id -> time it was produced
    order_s = []  # end-to-end time of each order, in the order they were fulfilled

    issued = fulfilled = 0
    started = time.perf_counter()

    def top_up():
        nonlocal issued
        while issued - fulfilled < args.window and issued < args.orders:
            order = new_order()
            order_started[order["eventId"]] = time.perf_counter()
            send(order)
            issued += 1
        producer.flush()

    def check_counts():
        created = db.execute(count_created_sql, prepare=True).fetchone()[0]
        done = db.execute(count_fulfilled_sql, prepare=True).fetchone()[0]
        if done != fulfilled or created < done or created - done > issued - fulfilled:
            sys.exit(f"plain-flow: count mismatch: {created} orders created, {done} fulfilled"
                     f" ({fulfilled} completed here); stopping")

    top_up()
    while fulfilled < args.orders:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        kind = kind_of[msg.topic()]
        ev = json.loads(msg.value())
        params = [ev["eventId"], ev["eventCreatedDate"], msg.value().decode()]
        if kind == "ordercreated":
            p = ev["payload"]
            params += [p["orderPrice"], p["orderIsFulfilled"], p["orderShippedDate"]]
        new = db.execute(insert_sql[kind], params, prepare=True).rowcount == 1
        if kind == "orderfulfilled":
            if new:
                shipped = now_iso()
                marked = db.execute(mark_sql, [shipped, shipped, ev["eventId"]],
                                    prepare=True).rowcount
                fulfilled += marked
                if marked:
                    order_s.append(time.perf_counter() - order_started.pop(ev["eventId"]))
                if marked and (fulfilled % args.count_every == 0 or fulfilled == args.orders):
                    check_counts()
                if fulfilled % 1000 == 0:
                    print(f"plain-flow: {fulfilled} orders fulfilled", file=sys.stderr)
            top_up()
        else:
            kind_next, payload = next_event(ev)
            send({"eventId": ev["eventId"], "eventType": kind_next,
                  "eventCreatedDate": now_iso(), "payload": payload})
            producer.flush()
        consumer.store_offsets(msg)
    elapsed = time.perf_counter() - started
    ranked = sorted(order_s)

    consumer.close()
    db.close()
    print(json.dumps({"tool": "plain-flow.py", "orders": args.orders, "window": args.window,
                      "count_every": args.count_every, "elapsed_s": round(elapsed, 6),
                      "orders_per_s": round(args.orders / elapsed, 3),
                      "first_order_ms": round(order_s[0] * 1e3, 3),
                      "order_p50_ms": round(ranked[len(ranked) // 2] * 1e3, 3),
                      "order_p99_ms": round(ranked[max(0, -(-len(ranked) * 99 // 100) - 1)] * 1e3, 3),
                      "confluent_kafka": confluent_kafka.__version__,
                      "librdkafka": confluent_kafka.libversion()[0],
                      "psycopg": psycopg.__version__, "libpq": psycopg.pq.version()}))
    print(f"plain-flow: {args.orders} orders, window {args.window}: elapsed {elapsed:.3f} s"
          f" ({args.orders / elapsed:.1f} orders/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
