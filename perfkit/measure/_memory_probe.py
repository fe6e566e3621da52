"""Child process of `perfkit.measure.memory`: one call, under memray or untracked, a JSON report on stdout.

Untracked runs give the resident set (memray's own buffers would inflate it); tracked runs
give the allocations, Python's object allocator traced too (see `measure_call_memory`). memray
is imported only for tracked runs for the same reason.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import psutil
import psycopg

from perfkit.data import implementations as impl
from perfkit.subject import IMPLEMENTATIONS, load_subject


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subject", required=True, help="the subject's folder")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--implementation", required=True, help=f"one of {IMPLEMENTATIONS} or a candidate's path")
    parser.add_argument("--key", type=int, required=True)
    parser.add_argument("--warm-key", type=int, required=True)
    parser.add_argument("--capture", help="memray capture file; without it the call runs untracked")
    parser.add_argument("--memory-limit-mb", type=int)
    parser.add_argument(
        "--python-stacks-only", action="store_true", help="no native stacks: for a capture no flamegraph is drawn from"
    )
    args = parser.parse_args()
    impl.cap_address_space(args.memory_limit_mb)
    fetch = impl.fetch_function(load_subject(args.subject), args.implementation)
    process = psutil.Process()
    with psycopg.connect(os.environ[impl.DSN_VARIABLE], autocommit=True) as conn:
        impl.prepare_session(conn, args.schema)
        fetch(conn, args.warm_key)  # imports and code paths warmed on a key without rows
        _reset_peak_rss()
        rss_before = process.memory_info().rss
        started = time.perf_counter()
        limit_hit = False
        try:
            if args.capture:
                import memray

                with memray.Tracker(
                    args.capture, native_traces=not args.python_stacks_only, trace_python_allocators=True
                ):
                    fetch(conn, args.key)
            else:
                fetch(conn, args.key)
        except MemoryError:
            limit_hit = True
        seconds = time.perf_counter() - started
        rss_after = process.memory_info().rss
        max_rss = _peak_rss()

    peak = allocations = 0
    if args.capture and not limit_hit:
        import memray

        with memray.FileReader(args.capture) as reader:
            peak, allocations = reader.metadata.peak_memory, reader.metadata.total_allocations
    report = {
        "peak_bytes": peak,
        "total_allocations": allocations,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "max_rss_bytes": max_rss,
        "seconds": seconds,
        "limit_hit": limit_hit,
    }
    print(json.dumps(report))
    return 0


def _reset_peak_rss() -> None:
    """Reset the kernel's high-water mark so it covers the measured call only (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss() -> int:
    """Resident high-water mark in bytes: VmHWM, which starts afresh at exec (ru_maxrss does
    not: Linux carries the parent's over a fork and exec)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    raise SystemExit(main())
