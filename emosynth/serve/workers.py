"""A bounded pool of worker threads: admission, per-request time limits, cancellation.

Requests are admitted while fewer than ``workers + queue_limit`` are running or waiting; past
that :class:`Busy` is raised at once (the server answers 503 with ``Retry-After``), so a burst
never builds an unbounded backlog. Work runs in threads: onnxruntime and numpy's BLAS release the
GIL, so threads use the cores without copying the models into other processes.

A thread cannot be stopped from outside, so a running job stops itself: it calls
:meth:`Job.check` between pieces of work (a sentence, say), which raises once the job's deadline
has passed or it was cancelled (its client went away, or asked). The admission slot is released
when the thread really ends, never when a client merely stops waiting, so the bound holds.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Busy", "Job", "JobCancelled", "PoolStats", "TimeLimitExceeded", "WorkerPool"]

T = TypeVar("T")
# Until a job has finished, Retry-After assumes a job takes this long.
_FIRST_GUESS_S = 2.0


class Busy(Exception):
    """Every worker is busy and the queue is full."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class TimeLimitExceeded(Exception):
    """A job ran past its time limit."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"the request ran past the server's time limit of {limit_s:g} s")
        self.limit_s = limit_s


class JobCancelled(Exception):
    """A job was cancelled (its client disconnected or asked to stop)."""


class Job:
    """What a running job sees: whether it should stop."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise if the job should stop: called by the job between pieces of work."""
        if self._cancelled.is_set():
            raise JobCancelled()
        if time.monotonic() > self.deadline:
            raise TimeLimitExceeded(self.limit_s)


@dataclass(frozen=True)
class PoolStats:
    workers: int
    queue_limit: int
    running: int  # jobs holding a thread now
    waiting: int  # admitted jobs not yet started
    completed: int
    rejected: int  # refused with Busy

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class WorkerPool:
    """``workers`` threads behind a queue of at most ``queue_limit`` waiting jobs."""

    def __init__(self, workers: int, queue_limit: int) -> None:
        self.workers = workers
        self.queue_limit = queue_limit
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emosynth-worker")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._completed = 0
        self._rejected = 0
        self._mean_s = _FIRST_GUESS_S

    async def run(self, fn: Callable[[Job], T], *, limit_s: float, job: Job | None = None) -> T:
        """Run ``fn(job)`` on a worker and return its result (:meth:`submit`, then :meth:`wait`)."""
        job = job or Job(limit_s)
        return await self.wait(self.submit(fn, job), job)

    def submit(self, fn: Callable[[Job], T], job: Job) -> asyncio.Future:
        """Admit ``fn(job)`` now or raise :class:`Busy`; call from the event loop."""
        self._admit()
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, job)
        future.add_done_callback(_consume)  # a job left behind by a timeout still ends quietly
        return future

    async def wait(self, future: asyncio.Future, job: Job):
        """The job's result. Raises :class:`TimeLimitExceeded` past its deadline (the job is told to
        stop), :class:`JobCancelled` if it was cancelled; cancelling the waiting task cancels the job."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, job.deadline - time.monotonic()))
        except TimeoutError:
            job.cancel()
            raise TimeLimitExceeded(job.limit_s) from None
        except asyncio.CancelledError:
            job.cancel()
            raise

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(self.workers, self.queue_limit, self._running, self._admitted - self._running,
                             self._completed, self._rejected)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.workers + self.queue_limit:
                self._rejected += 1
                ahead = self._admitted - self.workers + 1
                raise Busy(max(1, math.ceil(self._mean_s * max(ahead, 1) / self.workers)))
            self._admitted += 1

    def _call(self, fn: Callable[[Job], T], job: Job) -> T:
        with self._lock:
            self._running += 1
        start = time.monotonic()
        try:
            job.check()  # it may have been cancelled or timed out while it waited
            return fn(job)
        finally:
            with self._lock:
                self._running -= 1
                self._admitted -= 1
                self._completed += 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - start)


def _consume(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
