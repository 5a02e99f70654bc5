"""A background job that the machine stops (no permission, a vanished file) says so in the
reader's language, with the path, instead of "internal error"."""

from __future__ import annotations

import time

from cvm.web.jobs import JobRegistry


def _finished(registry: JobRegistry, job_id: str):
    deadline = time.time() + 10
    while time.time() < deadline:
        job = registry.get(job_id)
        if job.status in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError("the job did not finish")


def test_a_job_that_may_not_write_names_the_path_and_is_not_an_internal_error():
    registry = JobRegistry(workers=1)

    def work(progress):
        with open("/sys/cvm-job-test.csv", "w") as fh:  # sysfs refuses new files, even to root
            fh.write("x")

    job = _finished(registry, registry.submit("export", "ann", work).id)
    assert job.status == "failed"
    assert job.code == "no_permission"
    assert "/sys/cvm-job-test.csv" in job.error
    dutch, _ = job.failure_in("nl")
    assert "/sys/cvm-job-test.csv" in dutch and dutch != job.error


def test_a_job_whose_input_vanished_says_so(tmp_path):
    registry = JobRegistry(workers=1)
    gone = tmp_path / "upload.csv"

    def work(progress):
        return gone.read_text()

    job = _finished(registry, registry.submit("ingest", "ann", work).id)
    assert job.code == "file_vanished" and str(gone) in job.error


def test_a_bug_is_still_an_internal_error():
    registry = JobRegistry(workers=1)

    def work(progress):
        return 1 / 0

    job = _finished(registry, registry.submit("score", "ann", work).id)
    assert job.code == "job_internal_error"
