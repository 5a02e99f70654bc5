"""Background jobs of the web app: fits, scoring and ingesting uploads.

A small registry over a thread pool. Each job gets a ``progress(fraction,
message)`` callback; the pages poll ``/api/jobs/{id}`` and show a progress bar,
so requests never wait for long work.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from cvm.errors import CvmError, EnvironmentProblem
from cvm.messages import english, localize_parts

log = logging.getLogger("cvm.web.jobs")

Progress = Callable[[float, str], None]


@dataclass
class Job:
    """One piece of background work and what is known about it so far."""

    id: str
    kind: str
    owner: str
    status: str = "queued"  # queued, running, done, failed
    progress: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    hint: str | None = None
    #: the failure's code in :data:`cvm.messages.CATALOGUE` and its values, to show it in the reader's language
    code: str | None = None
    values: dict[str, Any] = field(default_factory=dict, repr=False)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "status": self.status,
            "progress": round(self.progress, 4), "message": self.message,
            "result": self.result, "error": self.error, "hint": self.hint, "code": self.code,
            "created": self.created, "finished": self.finished,
        }

    def failure_in(self, language: str) -> tuple[str | None, str | None]:
        """Why the job failed (error, hint) in ``language``; the stored English when the failure has no code."""
        if self.error is None:
            return None, self.hint
        return localize_parts(self.code, self.values, (self.error, self.hint), language)


class JobRegistry:
    """Runs callables in background threads and remembers their state.

    Parameters
    ----------
    workers
        Threads in the pool (fits are CPU-bound; one or two is plenty).
    keep
        How many finished jobs to remember.
    """

    def __init__(self, workers: int = 2, keep: int = 200) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cvm-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, kind: str, owner: str, work: Callable[[Progress], Any]) -> Job:
        """Queue ``work(progress)``; its return value (JSON-able) becomes the job's result."""
        job = Job(id=uuid.uuid4().hex, kind=kind, owner=owner)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Progress], Any]) -> None:
        def progress(fraction: float, message: str = "") -> None:
            job.progress = min(max(float(fraction), 0.0), 1.0)
            if message:
                job.message = message

        job.status = "running"
        try:
            job.result = work(progress)
            job.progress = 1.0
            job.status = "done"
        except CvmError as exc:
            job.status, job.error, job.hint = "failed", exc.message, exc.hint
            job.code, job.values = exc.code, dict(exc.values)
        except Exception as exc:
            problem = EnvironmentProblem.from_exception(exc)
            if problem is not None:  # the machine (full disk, no permission …): say so, with the path
                log.warning("job %s (%s) failed: %s", job.id, job.kind, problem.code)
                job.status, job.error, job.hint = "failed", problem.message, problem.hint
                job.code, job.values = problem.code, dict(problem.values)
            else:  # a bug: keep the server alive, log the type only (no data)
                log.exception("job %s (%s) failed", job.id, job.kind)
                job.code, job.values = "job_internal_error", {"kind": type(exc).__name__}
                job.status, (job.error, job.hint) = "failed", english(job.code, job.values)
        finally:
            job.finished = time.time()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: -j.created)

    def wait(self, job_id: str, timeout: float = 30.0) -> Job | None:
        """Block until the job ends (for tests and scripts); returns it."""
        end = time.time() + timeout
        while time.time() < end:
            job = self.get(job_id)
            if job is None or job.status in ("done", "failed"):
                return job
            time.sleep(0.02)
        return self.get(job_id)

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j.finished is not None]
        if len(done) > self._keep:
            for job in sorted(done, key=lambda j: j.finished)[: len(done) - self._keep]:
                del self._jobs[job.id]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
