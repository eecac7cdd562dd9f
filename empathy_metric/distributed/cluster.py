"""Joining (or starting) a Ray cluster, and the error that names the [ray] extra when it is missing."""
from __future__ import annotations

import importlib.util
import logging

from ..errors import UsageError


def require_ray(what: str = "--engine ray") -> None:
    """A UsageError naming the extra when Ray Data is not installed (before any work)."""
    if importlib.util.find_spec("ray") is None:
        raise UsageError(f"{what} needs the 'ray' extra (Ray Data): pip install 'empathy-metric[ray]'")


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster at `address` ('auto': the one this machine belongs to), or start a local one
    (`num_cpus`: its size) when None. Ray Data then keeps the input order and shows no progress bars."""
    require_ray()
    import ray
    import ray.data
    if not ray.is_initialized():
        # Ray's own INFO/WARNING lines would bury ours on stderr
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
