"""Dask: a local process cluster, and running pmap items on a cluster with a bounded window in flight."""
from __future__ import annotations

import os

from sicnb.parallel.sandbox import UNSET_WORKER_ENVIRON, _lost_entry, _safe_call, _sandboxed_call


def local_client(n_workers: int | None = None, threads_per_worker: int = 1, **kwargs):
    """A Dask ``Client`` on a local process cluster (close it, or use it as a context manager).

    The workers are spawned without the variables in :data:`UNSET_WORKER_ENVIRON`; the one-thread settings of
    Dask's ``distributed.nanny.pre-spawn-environ`` (``OMP_NUM_THREADS=1`` ...) are kept.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    n = n_workers or max(1, (os.cpu_count() or 2))
    unset = {f"distributed.nanny.pre-spawn-environ.{k}": None for k in UNSET_WORKER_ENVIRON}
    with dask.config.set(unset):
        cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=kwargs.pop("dashboard_address", ":0"), **kwargs)
    return Client(cluster)


def _run_dask(todo, make_task, timeout, store, n_workers, scheduler, tasks_per_thread: int = 4) -> None:
    """Run ``todo`` on a Dask cluster with a bounded number of tasks in flight.

    At most ``tasks_per_thread`` × (worker threads) tasks are submitted at a time and each result is
    released as soon as it is stored, so memory does not grow with the number of structures (26,000
    structure dicts and results held at once cost the driver and workers gigabytes).
    """
    from dask.distributed import Client, as_completed

    own = None
    if scheduler is None:
        own = client = local_client(n_workers)
    elif isinstance(scheduler, str):
        own = client = Client(scheduler)
    else:
        client = scheduler
    try:
        try:
            threads = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - e.g. no worker connected yet
            threads = 0
        window = max(8, tasks_per_thread * max(threads, int(n_workers or 1)))
        pending: dict = {}
        queue = iter(enumerate(todo))
        running = as_completed()

        def submit_next() -> bool:
            nxt = next(queue, None)
            if nxt is None:
                return False
            i, (rid, key, rec) = nxt
            task = make_task(rec, key)
            if timeout is None:
                fut = client.submit(_safe_call, *task, key=f"sicnb-{key[:20]}-{i}", pure=False)
            else:
                fut = client.submit(_sandboxed_call, task, timeout, key=f"sicnb-{key[:20]}-{i}", pure=False)
            pending[fut] = (rid, key)
            running.add(fut)
            return True

        for _ in range(window):
            if not submit_next():
                break
        for fut in running:
            rid, key = pending.pop(fut)
            try:
                entry = fut.result()
            except Exception as exc:  # noqa: BLE001 - worker died repeatedly, task lost: not cached
                entry = _lost_entry(rid, f"{type(exc).__name__}: {exc}")
            fut.release()
            del fut
            store(rid, key, entry)
            submit_next()
    finally:
        if own is not None:
            cluster = getattr(own, "cluster", None)
            own.close()
            if cluster is not None:
                cluster.close()
