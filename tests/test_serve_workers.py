"""The serve package's pieces that need no models: the bounded worker pool, the settings, the CLI's
refusals before anything loads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from emosynth.errors import EmosynthError
from emosynth.serve.settings import ServeSettings
from emosynth.serve.workers import (
    Busy,
    Job,
    JobCancelled,
    TimeLimitExceeded,
    WorkerPool,
)


def _sleeper(seconds: float, steps: int = 1):
    """A job that works in ``steps`` pieces, checking between them as the engine does."""
    def work(job: Job) -> str:
        for _ in range(steps):
            time.sleep(seconds / steps)
            job.check()
        return "done"
    return work


def test_the_pool_admits_workers_plus_queue_then_refuses():
    async def main():
        pool = WorkerPool(workers=1, queue_limit=1)
        first = asyncio.ensure_future(pool.run(_sleeper(0.4), limit_s=5))
        second = asyncio.ensure_future(pool.run(_sleeper(0.1), limit_s=5))
        await asyncio.sleep(0.05)
        assert pool.stats().running == 1 and pool.stats().waiting == 1
        with pytest.raises(Busy) as refused:
            await pool.run(_sleeper(0.1), limit_s=5)
        assert refused.value.retry_after_s >= 1
        assert await first == "done" and await second == "done"
        stats = pool.stats()
        assert (stats.running, stats.waiting, stats.completed, stats.rejected) == (0, 0, 2, 1)
        assert await pool.run(_sleeper(0.01), limit_s=5) == "done"  # room again
        pool.shutdown()
    asyncio.run(main())


def test_a_job_past_its_limit_stops_at_its_next_check_and_keeps_its_slot_until_then():
    async def main():
        pool = WorkerPool(workers=1, queue_limit=0)
        started = time.monotonic()
        with pytest.raises(TimeLimitExceeded, match="time limit of 0.1 s"):
            await pool.run(_sleeper(4.0, steps=4), limit_s=0.1)  # checks once a second
        assert time.monotonic() - started < 0.6  # the caller hears at the limit
        assert pool.stats().running == 1  # the thread is still in its first step: the bound holds
        with pytest.raises(Busy):
            await pool.run(_sleeper(0.01), limit_s=5)
        await asyncio.sleep(1.5)
        assert pool.stats().running == 0  # it stopped at its next check, long before 4 s
        pool.shutdown()
    asyncio.run(main())


def test_cancelling_the_waiting_task_cancels_the_job():
    async def main():
        pool = WorkerPool(workers=1, queue_limit=0)
        job = Job(limit_s=10)
        task = asyncio.ensure_future(pool.run(_sleeper(2.0, steps=20), limit_s=10, job=job))
        await asyncio.sleep(0.15)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job.cancelled
        await asyncio.sleep(0.3)
        assert pool.stats().running == 0
        pool.shutdown()
    asyncio.run(main())


def test_a_job_cancelled_while_waiting_never_runs():
    ran = threading.Event()

    async def main():
        pool = WorkerPool(workers=1, queue_limit=1)
        first = asyncio.ensure_future(pool.run(_sleeper(0.3), limit_s=5))
        job = Job(limit_s=5)
        second = asyncio.ensure_future(pool.run(lambda j: ran.set(), limit_s=5, job=job))
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(JobCancelled):
            await second
        await first
        pool.shutdown()
    asyncio.run(main())
    assert not ran.is_set()


@pytest.mark.parametrize("kwargs, words", [
    ({"workers": 0}, "workers must be at least 1"),
    ({"queue_size": -1}, "queue size"),
    ({"timeout_s": 0}, "time limit"),
    ({"port": 70000}, "port"),
    ({"api_key": "  "}, "API key is empty"),
])
def test_settings_refuse_bad_values(kwargs, words):
    with pytest.raises(EmosynthError, match=words):
        ServeSettings(**kwargs)


def test_settings_read_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("EMOSYNTH_API_KEY", "from-env")
    assert ServeSettings.from_env().api_key == "from-env"
    assert ServeSettings.from_env(api_key="given").api_key == "given"
    assert ServeSettings(workers=3).queue_limit == 6 and ServeSettings(workers=3, queue_size=0).queue_limit == 0


def test_every_worker_may_use_every_core_through_one_shared_backbone(monkeypatch):
    """A lone request gets all cores (docs/serve.md, "Threads"); the workers share one backbone,
    which Backbone.load keeps per thread count, so concurrent syntheses share its pool."""
    import emosynth.serve.settings as settings_module
    from emosynth.voice.backbone import Backbone

    monkeypatch.setattr(settings_module, "usable_cpus", lambda: 4)
    assert [ServeSettings(workers=n).threads_per_worker for n in (1, 2, 4, 8)] == [4, 4, 4, 4]
    assert ServeSettings(workers=2, threads=1).threads_per_worker == 1
    assert Backbone.load(threads=2) is Backbone.load(threads=2)


def test_the_cli_refuses_an_unknown_default_voice_before_loading_anything(capsys):
    from emosynth.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--voice", "nobody", "--port", "1"])
    assert exit_.value.code == 1
    assert "unknown voice 'nobody'" in capsys.readouterr().err
