"""Where submissions are graded: worker threads here, or the workers of a Dask cluster.

Both take `Job`s and return futures of `Outcome`s from `course_utils.grading.worker`; only the
coordinator, in the calling process, writes the gradebook.
"""

from __future__ import annotations

import concurrent.futures
import secrets
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from course_utils.grading import cores
from course_utils.grading.jobs import GradingError, Job, Outcome
from course_utils.grading.worker import grade_submission


class Executor(Protocol):
    """Runs `grade_submission` on jobs: `slots` at once, of which `workers` run notebooks."""

    workers: int
    slots: int

    def submit(self, job: Job) -> Any:
        """Start grading `job`; returns a future whose ``result()`` is an `Outcome`."""

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        """Block until at least one of `futures` is done; returns those done."""

    def close(self, cancel: bool = False) -> None:
        """Release the workers (`cancel`: drop jobs not started, do not wait)."""


class LocalExecutor:
    """Worker threads on this machine, each driving one nbgrader process at a time: `workers`
    notebooks at once, and as many more getting ready or writing feedback (`cores.ahead`)."""

    def __init__(self, workers: int) -> None:
        self.workers = self.cores = workers
        self.slots = cores.ahead(workers)
        self.pool = concurrent.futures.ThreadPoolExecutor(self.slots, thread_name_prefix="grade")

    def submit(self, job: Job) -> concurrent.futures.Future[Outcome]:
        """Grade `job` in the next free thread."""
        return self.pool.submit(grade_submission, replace(job, cores=self.cores))

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        """Block until one of `futures` is done; returns those done."""
        done, _ = concurrent.futures.wait(
            list(futures), return_when=concurrent.futures.FIRST_COMPLETED
        )
        return done

    def close(self, cancel: bool = False) -> None:
        """Stop the threads (`cancel`: drop jobs not started, do not wait)."""
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskExecutor:
    """Workers of a dask.distributed cluster: an address, or "local" for a LocalCluster here.

    Every connection is TLS with credentials. ``local`` makes a certificate for this run only
    (`Security.temporary`), shared by the scheduler, its workers and this client. A remote
    scheduler must be a ``tls://`` address, with the instructor's certificates given through
    Dask's own configuration (``distributed.comm.tls``: see docs/grading-and-security.md). Jobs
    carry their files as bytes, so workers need the course kit installed but no shared folder;
    results come back to this process, which alone writes the gradebook.
    """

    def __init__(self, address: str, workers: int) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        security = remote_security(address) if address != "local" else None
        if address == "local":
            from distributed.security import Security

            security = Security.temporary()
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=cores.ahead(1),  # one notebook each, the next getting ready
                processes=True,
                host="127.0.0.1",
                protocol="tls",
                security=security,
                dashboard_address=None,
            )
            address = self.cluster.scheduler_address
        self.client = Client(address, security=security)
        found = self.client.scheduler_info()["workers"]
        self.workers = max(1, len(found))
        self.slots = max(self.workers, sum(w.get("nthreads", 1) for w in found.values()))
        #: notebooks at once per worker process: one where this executor started the cluster;
        #: another cluster's workers run as many as their threads
        self.cores = 1 if self.cluster is not None else 0

    def submit(self, job: Job) -> Any:
        """Send `job` to the cluster under a key of its own (never cached)."""
        key = f"grade-{job.student}-{secrets.token_hex(4)}"
        job = replace(job, cores=self.cores)
        return self.client.submit(grade_submission, job, pure=False, key=key)

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        """Block until one of `futures` is done; returns those done."""
        from distributed import wait

        done: set[Any] = wait(list(futures), return_when="FIRST_COMPLETED").done
        return done

    def close(self, cancel: bool = False) -> None:
        """Disconnect, and stop the LocalCluster if this executor started one."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def remote_security(address: str) -> Any:
    """The instructor's TLS credentials for a remote scheduler, from Dask's configuration.

    Raises:
        GradingError: the address is not ``tls://``, or no certificate is configured.
    """
    from distributed.security import Security

    if not address.startswith("tls://"):
        raise GradingError(
            f"refusing the scheduler {address}: only tls:// addresses, with certificates, are "
            "used (see 'Other machines' in docs/grading-and-security.md)"
        )
    security: Any = Security(require_encryption=True)  # its fields are untyped __slots__
    if not (security.tls_ca_file and security.tls_client_cert):
        raise GradingError(
            "no TLS certificates for the scheduler: set distributed.comm.tls.ca-file and "
            "distributed.comm.tls.client.cert/key in Dask's configuration (see 'Other machines' in "
            "docs/grading-and-security.md)"
        )
    return security


def make_executor(dask: str | None, workers: int) -> Executor:
    """A `DaskExecutor` for the address `dask`, else `workers` local threads."""
    return DaskExecutor(dask, workers) if dask else LocalExecutor(workers)
