# The command line (CONTRACTS.md 4; src/main.cpp): --version, and --check-config exiting 0 on a
# valid file and 2 on an invalid one, naming the bad key and its line on stderr.
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from bridge import BIN, scaled

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

    def test_unknown_argument_exits_2(self):
        p = self.run_bin("--frobnicate")
        self.assertEqual(p.returncode, 2)

    def test_bridge_refuses_to_start_on_an_invalid_file(self):
        p = self.run_bin("--config", self.config("smtp:\n  nonsense: true\n"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("nonsense", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
