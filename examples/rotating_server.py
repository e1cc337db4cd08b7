"""A long-lived server whose log is split into runs of one session (rotation).

Each request is a span tree (an agent, a tool, a model call). With
``max_run_bytes``, once the log passes the limit the next run of the same session
takes the new requests, while those already open finish in the run they began in:
``spanline sessions`` lists them, and ``spanline prune --keep N`` deletes the
oldest, never the run still being written.

Run:  python examples/rotating_server.py [--requests 300] [--max-run-bytes 64KB]
"""

from __future__ import annotations

import argparse
import threading

import spanline
from spanline import traced_agent, traced_llm, traced_tool


@traced_tool(name="lookup")
def lookup(key: str) -> str:
    return f"value of {key}"


@traced_llm(provider="openai", model="gpt-4o-mini")
def answer(question: str, context: str) -> dict:
    return {
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": 40 + len(question), "completion_tokens": 12},
    }


@traced_agent(name="handler")
def handle(request: int) -> dict:
    context = lookup(f"key-{request % 7}")
    return answer(f"question {request}", context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--max-run-bytes", default="64KB")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    first = spanline.configure_observability(
        enabled=True, service_name="rotating-server", max_run_bytes=args.max_run_bytes
    )
    assert first is not None
    handled = iter(range(args.requests))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                request = next(handled, None)
            if request is None:
                return
            handle(request)

    threads = [threading.Thread(target=worker) for _ in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spanline.flush()  # the writer has placed every request: the run it writes to now
    last = spanline.current_run()
    spanline.shutdown()
    print(f"session: {first.run_id}")
    print(f"first run: {first.run_id}")
    print(f"last run: {last.run_id if last else None}")


if __name__ == "__main__":
    main()
