#!/usr/bin/env python3
"""The latency of one check_rspamd of the 32 KB bench message against a local rspamd (the tests'
minimal config, tests/e2e/rspamd_server.py), one thread then two. Needs the bench tools built:
cmake -DSMTP_BRIDGE_BENCH=ON ... && cmake --build build --target bench_rspamd_check
    /usr/bin/python3 bench/rspamd/run.py [build] [calls]"""
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
from rspamd_server import Rspamd  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
calls = sys.argv[2] if len(sys.argv) > 2 else "500"
tool = os.path.join(build, "bench", "bench_rspamd_check")
with tempfile.TemporaryDirectory() as folder, Rspamd() as rspamd:
    message = os.path.join(folder, "32k.eml")
    subprocess.run([sys.executable, os.path.join(root, "bench", "make_message.py"), message],
                   check=True)
    for threads in ("1", "2"):
        subprocess.run([tool, rspamd.url, message, calls, threads], check=True)
