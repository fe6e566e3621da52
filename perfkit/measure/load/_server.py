"""Child process of the load test (`perfkit.measure.load.driver`): W threads serve requests from a connection pool.

It imports only what a dashboard API process would (psycopg, its pool, the implementation),
so the resident set the parent samples is the serving process's, not the kit's. Requests
(start, end, key, rows, error) are written as JSON to a file when the run ends (a pipe
could fill and block the child while the parent is busy sampling).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from typing import Any

from psycopg_pool import ConnectionPool

from perfkit.data import implementations as impl
from perfkit.subject import IMPLEMENTATIONS, load_subject


def main() -> int:
    """One function on purpose: the serving process imports as little as possible, and its worker
    threads close over this run's pool, clock and request log."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--subject", required=True, help="the subject's folder")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--implementation", choices=IMPLEMENTATIONS, required=True)
    parser.add_argument("--keys", required=True, help="JSON list of [key, rows, weight]")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit-mb", type=int)
    parser.add_argument("--requests-file", required=True, help="where the request log is written at the end")
    args = parser.parse_args()
    impl.cap_address_space(args.memory_limit_mb)
    fetch = impl.fetch_function(load_subject(args.subject), args.implementation)
    users: list[list[int]] = json.loads(args.keys)
    requests: list[dict[str, Any]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def configure(conn: Any) -> None:
        impl.prepare_session(conn, args.schema)

    def worker(index: int) -> None:
        rng = random.Random(args.seed * 1000 + index)
        while not stop.is_set():
            key, rows, _ = rng.choices(users, weights=[u[2] for u in users])[0]
            started = time.monotonic()
            error = None
            try:
                with pool.connection() as conn:
                    fetch(conn, key)
            except MemoryError:
                error = "MemoryError"
                stop.set()
            except Exception as exc:  # recorded, not fatal: the run reports errors per request
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            with lock:
                requests.append(
                    {
                        "start": started,
                        "end": time.monotonic(),
                        "key": key,
                        "rows": rows,
                        "error": error,
                    }
                )

    with ConnectionPool(
        os.environ[impl.DSN_VARIABLE], min_size=args.workers, max_size=args.workers, configure=configure,
        kwargs={"autocommit": True}, open=True,
    ) as pool:  # fmt: skip
        pool.wait()
        print(json.dumps({"ready": time.monotonic()}), flush=True)
        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
        for thread in threads:
            thread.start()
        stop.wait(args.duration)
        stop.set()
        for thread in threads:
            thread.join()
    with open(args.requests_file, "w") as handle:
        json.dump(requests, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
