"""Chunks of work in worker processes, results back in input order (`--workers`).

A standard-library process pool (spawn: the same start on every platform, nothing inherited from the
parent's threads). Each worker is set up once by an initializer (it loads the model) and ignores
Ctrl-C: the parent alone stops the run, cancels what is queued and ends its workers, so nothing is
left running. At most `ahead` chunks are in flight, so memory does not grow with the input. A worker
that dies (killed, out of memory, a crash in native code) is a ModelError naming its chunk, never a
hang or a missing chunk; workers of a parent that is killed outright leave with it.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..errors import ModelError


STOP_WAIT_S = 1.0         # a terminated worker gets this long before it is killed


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Job:
    """Work for a worker: `function(payload)`; errors name its number and its first and last items."""
    payload: Any
    number: int
    first: str
    last: str


@dataclass
class Ready:
    """A result known without a worker; it keeps its place in the order."""
    value: Any


def _start_worker(initializer: Callable, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    initializer(*initargs)


def _exit_with_parent() -> None:
    """A parent killed outright (SIGKILL, OOM) cannot stop its workers, and they would wait for work
    forever (each holds both ends of the pool's queue): a worker leaves when its parent is gone."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _start_resource_tracker() -> None:
    """multiprocessing's resource tracker, started now with SIGHUP ignored (an ignored signal stays
    ignored across exec): a SIGHUP to the whole process group (a closed terminal) would otherwise end
    it, and the one started in its place prints a KeyError traceback for every semaphore it never
    saw. It still leaves when this process does (its pipe closes)."""
    from multiprocessing import resource_tracker
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        resource_tracker.ensure_running()
        return
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, before)


class WorkerPool:
    def __init__(self, workers: int, initializer: Callable, initargs: tuple = ()):
        _start_resource_tracker()
        self.executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start_worker, initargs=(initializer, initargs))
        self.ahead = 2 * workers

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.executor.shutdown(wait=True)
        else:
            self.stop()

    def stop(self) -> None:
        """Drop queued chunks and end the workers now (not after their current chunk). Called while an
        error, Ctrl-C or SIGTERM ends the run: nothing here may replace it (a pool that broke meanwhile
        can fail to shut down cleanly), and the workers are ended whatever happens. The processes are
        taken before `shutdown`, which forgets them (CPython 3.11 sets `_processes` and `_result_queue`
        to None), and terminated first, so that no chunk in progress holds the run up."""
        # Python 3.14 has executor.terminate_workers(); before it, the processes are reached directly.
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        results = getattr(getattr(self.executor, "_result_queue", None), "_writer", None)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        with contextlib.suppress(Exception):
            self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(STOP_WAIT_S)
                if process.is_alive():
                    process.kill()
                    process.join()
        # A worker ended while sending a result leaves half a message in the result pipe, and the
        # executor's thread would wait for the rest forever (and the interpreter for that thread, at
        # exit). With the workers gone, closing this process's own write end lets it read end-of-file:
        # it then takes the pool for broken and cleans up.
        with contextlib.suppress(Exception):
            results.close()

    def run_now(self, function: Callable, job: Job) -> Any:
        """`function(job.payload)` in a worker, waited for (a worker that dies: the error `ordered` gives)."""
        in_flight: deque = deque()
        in_flight.append((job, self._submit(function, job, in_flight)))
        return _result(in_flight)[1]

    def _submit(self, function: Callable, job: Job, in_flight: deque) -> Future:
        """A worker that died since the last call breaks the pool, and submitting raises: the error is
        then the one its chunk gives (the first in flight whose worker died), as `_result` words it."""
        try:
            return self.executor.submit(function, job.payload)
        except BrokenProcessPool:
            while in_flight:
                _result(in_flight)
            in_flight.append((job, _failed_future()))
            _result(in_flight)
            raise

    def ordered(self, function: Callable, items: Iterable[Job | Ready]) -> Iterator[tuple[Job | Ready, Any]]:
        """(item, result) in the order of `items`: `function(job.payload)` run in a worker for a Job,
        a Ready's value as it is."""
        in_flight: deque[tuple[Job | Ready, Future | None]] = deque()
        for item in items:
            in_flight.append((item, self._submit(function, item, in_flight) if isinstance(item, Job) else None))
            while len(in_flight) > self.ahead:
                yield _result(in_flight)
        while in_flight:
            yield _result(in_flight)


def _failed_future() -> Future:
    future: Future = Future()
    future.set_exception(BrokenProcessPool("the pool broke before this chunk could start"))
    return future


def _result(in_flight: deque) -> tuple[Job | Ready, Any]:
    item, future = in_flight.popleft()
    if future is None:
        return item, item.value
    try:
        return item, future.result()
    except BrokenProcessPool as exc:
        # Every unfinished chunk fails with it; the pool does not say which one its worker held.
        lost = [item] + [job for job, f in in_flight if f is not None]
        chunks = f"chunk {item.number}" if len(lost) == 1 else f"chunks {item.number} to {lost[-1].number}"
        raise ModelError(f"a worker process died while scoring {chunks} (dialogues {item.first} to "
                         f"{lost[-1].last}): {exc} Rerun with --workers 1 to see its error; --resume keeps "
                         "what was written") from None
