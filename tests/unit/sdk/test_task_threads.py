"""The SDK's task threads: daemons, reused when idle, never handing work to a busy thread."""

from __future__ import annotations

import threading

from hatchet_worker._threads import TaskThreads


def test_a_busy_thread_never_receives_new_work_and_idle_threads_are_reused() -> None:
    threads = TaskThreads()
    release = threading.Event()
    blocked = threads.submit(release.wait, 30)  # like a cancelled task whose function still runs
    names = [threads.submit(lambda: threading.current_thread().name).result(10) for _ in range(20)]
    assert not blocked.done()
    assert threading.current_thread().name not in names
    assert len(set(names)) == 1  # one extra thread, reused for every short call
    assert threads.size == 2
    assert threads.busy == 1
    release.set()
    assert blocked.result(10) is True
    threads.shutdown()


def test_threads_are_daemons_and_exceptions_reach_the_caller() -> None:
    threads = TaskThreads()
    daemon = threads.submit(lambda: threading.current_thread().daemon).result(10)
    assert daemon is True
    failing = threads.submit(lambda: 1 / 0)
    try:
        failing.result(10)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the exception was lost")
    threads.shutdown()


def test_concurrent_calls_get_concurrent_threads() -> None:
    threads = TaskThreads()
    n = 16
    barrier = threading.Barrier(n, timeout=10)  # only passes if all n run at the same time
    futures = [threads.submit(barrier.wait) for _ in range(n)]
    assert sorted(f.result(15) for f in futures) == list(range(n))
    assert threads.size == n
    threads.shutdown()
