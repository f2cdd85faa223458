"""Local ports for the bench scripts (bench/replicas_run.py, bench/soak_run.py): a free one on
127.0.0.1, and waiting until a server listens on one."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline_s):
    """True once 127.0.0.1:port accepts a connection, False after deadline_s seconds."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
