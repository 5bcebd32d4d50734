"""Run calls at the same moment from many threads."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def race(calls: list[Callable[[], T]], timeout: float = 30) -> list[T]:
    """Start every call in its own thread, released together by a barrier; return the answers.

    An exception in any call is raised here; a barrier that is not reached in time breaks.
    """
    barrier = threading.Barrier(len(calls), timeout=timeout)

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=timeout) for future in futures]
