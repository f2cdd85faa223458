#!/usr/bin/env python3
"""Driver of bench/rspamd-check: starts the tests' rspamd (tests/e2e/rspamd_server.py), writes the
32 KB bench message (bench/make_message.py) and runs bench_rspamd_check with one thread, then two.
    /usr/bin/python3 bench/rspamd_run.py TOOL [CALLS]"""
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
from rspamd_server import Rspamd  # noqa: E402

tool = sys.argv[1]
calls = sys.argv[2] if len(sys.argv) > 2 else "1000"
with tempfile.TemporaryDirectory() as folder, Rspamd() as rspamd:
    message = os.path.join(folder, "32k.eml")
    subprocess.run([sys.executable, os.path.join(root, "bench", "make_message.py"), message],
                   check=True, stdout=subprocess.DEVNULL)
    for threads in ("1", "2"):
        subprocess.run([tool, rspamd.url, message, calls, threads], check=True)
