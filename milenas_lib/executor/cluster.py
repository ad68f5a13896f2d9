"""Backend ``ray``: one Ray Core task per run (``num_cpus`` = its threads,
``num_gpus`` = 1/per_gpu), retried by Ray when its worker or node dies; the
retry resumes from the run folder's checkpoint, so the store must be a path
every node sees (docs/SCALING.md)."""
from __future__ import annotations

import re
import socket
import time
from typing import Optional

from .bars import Progress
from .runs import ClusterUnavailableError, ExecutorError, Run, RunQueue, blame, execute_one, on_disk

#: How long a retried Ray task waits for the lock of a worker lost with its node.
LOCK_WAIT_S = 300.0
#: How long ``--address host:port`` (or ``ray://host:port``) may take to answer.
CONNECT_TIMEOUT_S = 30.0
_HOST_PORT = re.compile(r"^(?:ray://)?\[?([^\[\]/]+?)\]?:(\d{1,5})$")


def _execute_on_node(run: Run, lock_wait_s: float) -> str:
    """A Ray task: run it, waiting while the run folder is locked.  A worker on
    a node that died can hold its lock until the shared file system notices
    (an NFSv4 lease: about 90 s); the retry then waits instead of failing."""
    return execute_one(run, lock_wait_s=lock_wait_s)


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterUnavailableError("backend 'ray' needs Ray: pip install -e '.[cluster]'") from None
    return ray


def _no_cluster(address: str, why: str) -> ClusterUnavailableError:
    return ClusterUnavailableError(
        f"no Ray cluster at --address {address} ({why[:120]}); start one with `ray start --head` and pass its "
        "address, or leave --address out for a local Ray instance")


def wait_for_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """For ``host:port`` and ``ray://host:port``: wait until something accepts
    a connection there, at most ``timeout_s`` (a head node still starting
    gets that long).  Ray itself would retry for many minutes."""
    match = _HOST_PORT.match(address.strip())
    if not match:
        return  # "auto", or a form Ray checks (and refuses) at once
    host, port = match.group(1), int(match.group(2))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, port), timeout=max(0.1, min(5.0, deadline - time.monotonic()))).close()
            return
        except OSError as error:
            reason = error.strerror or type(error).__name__
        if time.monotonic() + 1.0 > deadline:
            raise _no_cluster(address, f"nothing answered within {timeout_s:.0f} s: {reason}")
        time.sleep(1.0)


def connect_ray(address: Optional[str], num_cpus: int, num_gpus: int,
                timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Join the cluster at ``address`` (waiting at most ``timeout_s`` for it to
    answer), else start a local instance; returns whether this call started
    Ray (and so should stop it)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address:
        wait_for_address(address, timeout_s)
        try:
            ray.init(address=address, log_to_driver=False)
        except ImportError as error:  # ray:// needs Ray's client (grpcio)
            raise ClusterUnavailableError(f"--address {address} needs Ray's client ({error}): "
                                          "pip install -e '.[cluster]'") from None
        except ConnectionError as error:
            raise _no_cluster(address, (str(error).strip().splitlines() or [""])[0]) from None
        return True
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False)
    return True


def run_on_ray(queue: RunQueue, address: Optional[str], num_cpus: int, gpus: int, per_gpu: int, retries: int,
               progress: Progress, poll_s: float) -> int:
    """Every queued run as a task at once (Ray starts them in that order as
    resources free up); runs that join the queue are submitted as they come."""
    ray = _ray()
    started = connect_ray(address, num_cpus=num_cpus, num_gpus=gpus)
    refs: dict = {}
    try:
        use_gpu = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(_execute_on_node)

        def submit() -> None:
            while queue:
                run = queue.pop()
                options = dict(num_cpus=run.threads, num_gpus=1 / per_gpu if use_gpu and run.device != "cpu" else 0,
                               max_retries=retries, retry_exceptions=False, name=f"milenas {run.label}")
                refs[task.options(**options).remote(run, LOCK_WAIT_S)] = (run, time.perf_counter())
                progress.start(run)

        submit()
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=poll_s)
            progress.poll()
            for ref in ready:
                run, started_at = refs.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    raise blame(error.as_instanceof_cause(), run) from None
                except ray.exceptions.RayError as error:  # workers or nodes lost more often than retried
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    raise ExecutorError(f"{run.label}: {first[:200]} (after {retries} retries); "
                                        f"{on_disk(run.folder)}") from None
                progress.finish(run, time.perf_counter() - started_at)
                progress.grow(queue.refill())
                submit()
    finally:
        for ref in refs:  # on an error or Ctrl-C: the others resume next time
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
    return 0  # Ray retries dead workers itself
