# Several replicas on one PostgreSQL database (issue 12, README "Scaling out"): three real
# bridge processes with their own SMTP ports share one queue on a real PostgreSQL 15 server that
# the test starts (tests/support/pg_server.py). Asserts what an operator depends on: each message
# reaches the webhook once when nothing fails, a SIGKILLed replica's leased rows are delivered by
# another, a database restart under load answers 451 and loses nothing acknowledged, replicas
# starting together migrate once, and an Idempotency-Key is honoured across replicas.
import http.client
import json
import os
import smtplib
import subprocess
import sys
import threading
import time
import unittest

import bridge
from bridge import Bridge, queued_id, scaled
from receiver import Answer, Receiver, make_secret

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from pg_server import PgServer  # noqa: E402

KEY = "sbk_replicas_test_key_4d2f"
SECRET = make_secret("replicas")
PG = None


def setUpModule():
    global PG
    if not bridge.BIN:
        raise unittest.SkipTest("SMTP_BRIDGE_BIN is not set")
    PG = PgServer()


def tearDownModule():
    if PG:
        PG.close()


def replica_config(dsn, receiver, timeout="2s", **delivery):
    cfg = {"store": {"backend": "postgres", "postgres": {"dsn": dsn, "connect_timeout": "2s",
                                                          "statement_timeout": "5s"}},
           "routes": [{"match": "*@hooks.example",
                       "endpoints": [{"name": "hook", "url": receiver.url("/hook"),
                                      "secret": SECRET, "timeout": timeout}]}],
           "api": {"listen": "127.0.0.1:0", "keys": [{"name": "shop", "key": KEY}]},
           "delivery": {"retry": {"initial": "200ms", "max_interval": "1s", "max_age": "1h"}}}
    cfg["delivery"].update(delivery)
    return cfg


def send(replica, tag):
    """One message through `replica`'s SMTP port: (code, queued id or None)."""
    with smtplib.SMTP("127.0.0.1", replica.port(), timeout=scaled(30)) as s:
        s.ehlo("client.example")
        s.mail("sender@example.org")
        code, _ = s.rcpt("inbox@hooks.example")
        if code != 250:
            return code, None
        code, text = s.data(f"Subject: {tag}\r\nMessage-ID: <{tag}@example.org>\r\n\r\n{tag}\r\n")
        return code, queued_id(text) if code == 250 else None


def status(replica, listener, path, key=None):
    conn = http.client.HTTPConnection("127.0.0.1", replica.port(listener), timeout=scaled(30))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


def delivered_ids(receiver):
    """The stored message ids the receiver was POSTed, one entry per POST."""
    return [r.json()["id"] for r in receiver.requests("/hook")]


class Replicas(unittest.TestCase):
    def setUp(self):
        self.database = PG.create_database()
        self.dsn = PG.dsn(self.database)
        self.receiver = Receiver().start()
        self.addCleanup(self.receiver.stop)

    def replica(self, wait=True, **options):
        b = Bridge(extra=replica_config(self.dsn, self.receiver, **options))
        b.expect = b.expect + ["api"]
        self.addCleanup(b.cleanup)
        b.start(wait=wait)
        return b

    def sql(self, query):
        return PG.psql(query, self.database)

    def test_mail_sent_to_three_replicas_is_delivered_once_each(self):
        replicas = [self.replica() for _ in range(3)]
        acked = []
        for i in range(30):
            code, msg_id = send(replicas[i % 3], f"m{i}")
            self.assertEqual(code, 250)
            acked.append(msg_id)
        self.receiver.wait_until(lambda _: set(acked) <= set(delivered_ids(self.receiver)),
                                 timeout=30, what="every acknowledged message delivered")
        for r in replicas:
            r.stop()  # drains: a duplicate in flight would arrive before this returns
        self.assertEqual(sorted(delivered_ids(self.receiver)), sorted(acked))
        self.assertEqual(self.sql("SELECT state, count(*) FROM inbound_deliveries GROUP BY state"),
                         "delivered|30")

    def test_a_killed_replica_rows_are_delivered_by_another_after_its_lease(self):
        # The first POST hangs (the replica is killed while waiting for it); later ones succeed.
        self.receiver.script("/hook", [Answer(200, delay=scaled(150))])
        a = self.replica(timeout="1s", lease="10s")
        b = self.replica(timeout="1s", lease="10s")
        code, msg_id = send(a, "leased")
        self.assertEqual(code, 250)
        self.receiver.wait_for(1, "/hook", timeout=20)
        self.assertEqual(self.sql(f"SELECT state FROM inbound_deliveries "
                                  f"WHERE message_id = '{msg_id}'"), "in_flight")
        a.kill()
        # b's sweep finds the lease expired, queues the row again and delivers it.
        # delivery.lease 10s, but a lease is at least twice the endpoint timeout plus a minute (the
        # render may wait that long for memory):
        # 62 s here, then up to one 5 s sweep.
        self.receiver.wait_for(2, "/hook", timeout=120)
        first, second = self.receiver.requests("/hook")[:2]
        self.assertEqual(first.json()["id"], msg_id)
        self.assertEqual(second.json()["id"], msg_id)
        self.assertEqual(first.header("webhook-id"), second.header("webhook-id"))
        deadline = time.monotonic() + scaled(20)
        while self.sql(f"SELECT state || ',' || attempts FROM inbound_deliveries "
                       f"WHERE message_id = '{msg_id}'") != "delivered,2":
            self.assertLess(time.monotonic(), deadline, "the row was not recorded delivered")
            time.sleep(0.1)
        b.stop()

    def test_a_database_restart_under_load_answers_451_and_loses_nothing(self):
        a, b = self.replica(), self.replica()
        acked, codes = [], []
        lock = threading.Lock()
        stop = threading.Event()

        def sender(replica, name):
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    code, msg_id = send(replica, f"{name}-{i}")
                except (OSError, smtplib.SMTPException):
                    code, msg_id = None, None
                with lock:
                    codes.append(code)
                    if msg_id:
                        acked.append(msg_id)
                if code != 250:
                    time.sleep(0.05)

        threads = [threading.Thread(target=sender, args=(r, n)) for r, n in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        try:
            self.wait_for(lambda: len(acked) >= 20, "20 messages acknowledged before the outage")
            PG.stop(immediate=True)  # a crash of the server: in-progress commits fail
            self.wait_for(lambda: codes.count(451) >= 2, "451 answers during the outage")
            # Unready while the database is away, and a lookup is 503, not a false 404.
            self.wait_for(lambda: status(a, "admin", "/readyz") == 503, "/readyz 503")
            self.assertEqual(status(b, "api", "/v1/messages/01900000-0000-7000-8000-000000000000",
                                    KEY), 503)
            PG.start()
            with lock:
                before = len(acked)
            self.wait_for(lambda: len(acked) >= before + 20, "acknowledged again after it")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=scaled(60))
        # Never anything but a commit's 250 or the store's 451 (None: the connection dropped).
        self.assertEqual([c for c in codes if c not in (250, 451, None)], [])
        self.receiver.wait_until(lambda _: set(acked) <= set(delivered_ids(self.receiver)),
                                 timeout=60, what="every acknowledged message delivered")
        self.wait_for(lambda: status(a, "admin", "/readyz") == 200, "/readyz 200 again")
        self.assertEqual(status(b, "api", "/v1/messages/01900000-0000-7000-8000-000000000000",
                                KEY), 404)

    def wait_for(self, predicate, what, timeout=30):
        end = time.monotonic() + scaled(timeout)
        while not predicate():
            self.assertLess(time.monotonic(), end, what)
            time.sleep(0.05)

    def test_three_replicas_started_together_on_an_empty_database_migrate_once(self):
        # Three processes started at once on an empty database: without the migration's advisory
        # lock two would create the same tables and one would exit on "already exists".
        replicas = [self.replica(wait=False) for _ in range(3)]
        for r in replicas:
            r.wait_listening()
        self.assertEqual(self.sql("SELECT count(*) = count(DISTINCT version) AND count(*) > 0 "
                                  "FROM schema_versions"), "t")
        for i, r in enumerate(replicas):
            code, _ = send(r, f"after-migration-{i}")
            self.assertEqual(code, 250)
        self.receiver.wait_for(3, "/hook", timeout=20)

    def test_check_connection_reaches_the_server_and_names_the_schema(self):
        replica = self.replica()  # migrates the fresh database
        replica.stop()
        done = subprocess.run([bridge.BIN, "--check-connection", "--config", replica.config_path],
                              capture_output=True, text=True, timeout=scaled(30))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("store: postgres:", done.stdout)
        self.assertRegex(done.stdout, r"PostgreSQL 15\.")
        self.assertRegex(done.stdout, r"schema version \d+")

    def test_an_idempotency_key_sent_to_two_replicas_gets_the_same_answer(self):
        a, b = self.replica(), self.replica()
        request = {"from": "shop@example.com", "to": ["buyer@example.org"], "subject": "order 7",
                   "text": "thanks"}
        first = self.post(a, request, "order-7")
        again = self.post(b, request, "order-7")
        self.assertEqual(first[0], 202, first)
        self.assertEqual(again, first)
        changed = self.post(b, dict(request, subject="order 8"), "order-7")
        self.assertEqual(changed[0], 409, changed)

    def post(self, replica, body, key):
        conn = http.client.HTTPConnection("127.0.0.1", replica.port("api"), timeout=scaled(30))
        try:
            conn.request("POST", "/v1/messages", body=json.dumps(body).encode(),
                         headers={"Authorization": f"Bearer {KEY}",
                                  "Content-Type": "application/json", "Idempotency-Key": key})
            res = conn.getresponse()
            return res.status, json.loads(res.read())
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
