# The command line (CONTRACTS.md 4; src/main.cpp): --version, and --check-config exiting 0 on a
# valid file and 2 on an invalid one, naming the bad key and its line on stderr.
import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from bridge import BIN, _die_with_parent, scaled

VALID = """\
smtp:
  listen: ["127.0.0.1:2525"]
  hostname: mx.example.com
  require_tls: false
  limits: {max_message_size: 1MiB, max_recipients: 100, command_timeout: 5m, data_timeout: 3m}
  bare_lf: reject
  greet_delay: 0s
routes:
  - match: ["support@example.com", "*@help.example.com"]
store:
  path: ./var/test.db
admin: {listen: "127.0.0.1:8081"}
log: {level: info}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(stream, deadline):
    """One line of a pipe, or b"" once `deadline` (monotonic) has passed."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            return b""
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            return data
        data += chunk
    return data


def get_status(url, key):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=scaled(10)) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


class Cli(unittest.TestCase):
    def setUp(self):
        if not BIN:
            self.skipTest("SMTP_BRIDGE_BIN is not set")
        self.tmp = tempfile.mkdtemp(prefix="e2e-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_bin(self, *args):
        return subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=scaled(30), cwd=self.tmp, stdin=subprocess.DEVNULL)

    def config(self, text):
        path = os.path.join(self.tmp, "config.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version_prints_name_and_version(self):
        p = self.run_bin("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^smtp-bridge \d+\.\d+\.\d+\S*\n$")

    def test_check_config_accepts_a_valid_file(self):
        p = self.run_bin("--check-config", "--config", self.config(VALID))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "var", "test.db")),
                         "--check-config must not open the store")

    def test_check_config_names_an_unknown_key_and_its_line(self):
        text = VALID.replace("  bare_lf: reject\n", "  bare_lf: reject\n  max_recipientz: 5\n")
        line = text.splitlines().index("  max_recipientz: 5") + 1
        p = self.run_bin("--check-config", "--config", self.config(text))
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        self.assertIn("max_recipientz", err)
        self.assertRegex(err, rf"line {line}\b")

    def test_check_config_names_an_unknown_nested_key(self):
        text = VALID.replace("  path: ./var/test.db\n", "  path: ./var/test.db\n  pathh: x\n")
        line = text.splitlines().index("  pathh: x") + 1
        p = self.run_bin("--check-config", "--config", self.config(text))
        self.assertEqual(p.returncode, 2)
        self.assertIn("pathh", p.stderr.decode())
        self.assertRegex(p.stderr.decode(), rf"line {line}\b")

    def test_check_config_rejects_a_bad_duration(self):
        p = self.run_bin("--check-config", "--config", self.config(VALID.replace("greet_delay: 0s",
                                                                                 "greet_delay: soon")))
        self.assertEqual(p.returncode, 2)
        self.assertIn("greet_delay", p.stderr.decode())

    def test_check_config_rejects_a_missing_file(self):
        p = self.run_bin("--check-config", "--config", os.path.join(self.tmp, "nope.yaml"))
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr)

    def postgres_config(self, dsn):
        return self.config(VALID.replace("  path: ./var/test.db\n",
                                         "  backend: postgres\n  postgres:\n    dsn: '%s'\n" % dsn))

    def test_check_config_refuses_a_dsn_libpq_cannot_parse_without_quoting_it(self):
        p = self.run_bin("--check-config", "--config",
                         self.postgres_config("host=127.0.0.1 password=hunter2secret bogus"))
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        self.assertIn("store.postgres.dsn", err)
        self.assertNotIn("hunter2secret", err)
        p = self.run_bin("--check-config", "--config",
                         self.postgres_config("host=127.0.0.1 colour=blue"))
        self.assertEqual(p.returncode, 2)
        self.assertIn('invalid connection option "colour"', p.stderr.decode())

    def test_check_config_does_not_connect_but_check_connection_does(self):
        # Nothing listens on the port: --check-config is still 0 (syntax only), --check-connection 1.
        dsn = "host=127.0.0.1 port=%d dbname=bridge user=bridge password=hunter2secret " \
              "connect_timeout=2" % free_port()
        path = self.postgres_config(dsn)
        p = self.run_bin("--check-config", "--config", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_bin("--check-connection", "--config", path)
        self.assertEqual(p.returncode, 1, p.stdout)
        err = p.stderr.decode()
        self.assertIn("store.postgres: cannot connect", err)
        self.assertNotIn("hunter2secret", err)

    def test_unknown_argument_exits_2(self):
        p = self.run_bin("--frobnicate")
        self.assertEqual(p.returncode, 2)

    def test_bridge_refuses_to_start_on_an_invalid_file(self):
        p = self.run_bin("--config", self.config("smtp:\n  nonsense: true\n"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("nonsense", p.stderr.decode())

    def test_a_generated_api_key_is_shown_whatever_the_log_level(self):
        # CONTRACTS.md 4: with no api.keys, a key is generated and printed once at start-up. At
        # log level error it is the only line, and without it the API could not be used.
        api = free_port()
        text = (f"smtp: {{listen: [\"127.0.0.1:{free_port()}\"]}}\n"
                f"api: {{listen: \"127.0.0.1:{api}\"}}\n"
                f"admin: {{listen: \"127.0.0.1:{free_port()}\"}}\n"
                "store: {path: ./var/key.db}\nlog: {level: error}\n")
        proc = subprocess.Popen([BIN, "--config", self.config(text)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=self.tmp,
                                preexec_fn=_die_with_parent)
        try:
            line = read_line(proc.stdout, time.monotonic() + scaled(20))
            self.assertTrue(line, "nothing on stdout: the generated key was not shown")
            shown = json.loads(line)
            self.assertEqual(shown["msg"], "api key generated", shown)
            key = shown["key"]
            self.assertGreaterEqual(len(key), 32, shown)
            url = f"http://127.0.0.1:{api}/v1/inbound"
            self.assertEqual(get_status(url, key), 200)
            self.assertEqual(get_status(url, key + "x"), 401)
        finally:
            proc.terminate()
            proc.wait(timeout=scaled(20))
            rest = proc.stdout.read()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(rest, b"", "lines below level error were written")


if __name__ == "__main__":
    unittest.main()
