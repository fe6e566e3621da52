"""Child of `perfkit.measure.instructions`, under callgrind: each implementation's call twice per user, between markers.

``os.getppid()`` (libc's ``getppid``, which nothing else here calls) marks each call's start and
end: callgrind dumps its counts at each marker, so every call is counted alone, interpreter start-up,
imports and what runs between calls left out. The second call of each user is the warm one. A
collection before each call makes the cyclic collector's work inside the call the call's own (the
legacy version's allocations trigger it).

valgrind starts the probe uninstrumented: the interpreter's start, the imports and the warming calls,
none of them counted, run about four times faster so. Instrumentation is switched on after the
warming calls, before the first marker (`_instrument_from_here`).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import time

import psycopg

from perfkit.data import implementations as impl
from perfkit.subject import load_subject

_CONTROL_TIMEOUT = 60.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subject", required=True, help="the subject's folder")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--implementations", required=True, help="names or candidate paths, comma-separated")
    parser.add_argument("--users", required=True, help="user ids, comma-separated")
    parser.add_argument("--warm-key", type=int, required=True)
    args = parser.parse_args()
    subject = load_subject(args.subject)
    fetches = [impl.fetch_function(subject, name) for name in args.implementations.split(",")]
    with psycopg.connect(os.environ[impl.DSN_VARIABLE], autocommit=True) as conn:
        impl.prepare_session(conn, args.schema)
        for fetch in fetches:
            fetch(conn, args.warm_key)  # imports and code paths warmed on a key without rows
        _instrument_from_here()
        for fetch in fetches:
            for key in (int(user) for user in args.users.split(",")):
                for _ in range(2):
                    gc.collect()  # each call starts with the collector's counters at zero, whatever came before
                    os.getppid()
                    fetch(conn, key)
                    os.getppid()
    return 0


def _instrument_from_here() -> None:
    """Ask callgrind (through ``callgrind_control``) to instrument this process from now on. valgrind
    reads the request between blocks of guest code, so the loop keeps running some until it is done."""
    control = subprocess.Popen(
        ["callgrind_control", "--instr=on", str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + _CONTROL_TIMEOUT
    while control.poll() is None:
        if time.monotonic() > deadline:
            control.kill()
            raise SystemExit(f"callgrind_control did not answer within {_CONTROL_TIMEOUT:.0f} s")
    if control.returncode != 0:
        complaint = (control.stderr.read() if control.stderr else "").strip() or f"exit {control.returncode}"
        raise SystemExit(f"callgrind_control could not switch instrumentation on: {complaint}")


if __name__ == "__main__":
    raise SystemExit(main())
