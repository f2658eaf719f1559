"""Threads for sync task functions: daemon threads, reused, never more busy than tasks running.

Why not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined at interpreter exit, so
a sync task that ignores cancellation (a blocking call that never returns) would keep the worker
process alive after it finished shutting down, past the pod's grace period. And its fixed size
would queue a new task behind a thread still busy with a cancelled task. Here a submitted call
runs at once on an idle thread, or on a new one when every thread is busy; a thread is idle only
when its function has actually returned.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any

_Item = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]] | None


class TaskThreads:
    def __init__(self, name_prefix: str = "hatchet-task") -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._names = (f"{name_prefix}-{i}" for i in itertools.count())
        self._closed = False

    @property
    def size(self) -> int:
        return len(self._threads)

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._threads) - self._idle

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the task threads are shut down")
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # reserve a waiting thread for this item
            self._queue.put((future, fn, args))
            if spawn:
                thread = threading.Thread(target=self._loop, name=next(self._names), daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args = item
            del item
            if not future.set_running_or_notify_cancel():
                with self._lock:
                    self._idle += 1
                continue
            error: BaseException | None = None
            result: Any = None
            try:
                result = fn(*args)
            except BaseException as exc:
                error = exc
            del fn, args
            # Idle before the result is published: whoever waits on it and submits again reuses us.
            with self._lock:
                self._idle += 1
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
            del future, result, error  # drop references before waiting for the next item

    def shutdown(self) -> None:
        """Stop idle threads; busy ones end with their function (they are daemons either way)."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
