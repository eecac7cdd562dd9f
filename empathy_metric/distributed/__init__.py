"""The Ray Data engine (extra [ray]): scoring beyond one machine, on an existing Ray cluster.

- `score --engine ray`: the run is the local one (reading, accounting, --resume, writing, summary on
  the driver), with its chunks of dialogues scored by `map_batches` over a pool of actors that each
  hold the model (`RayPool`: what `--workers` does with processes). Outputs are the local engine's,
  byte for byte. With `-o DIR/` the per-turn records go from the actors to Ray's file writers
  (shards.py) and only per-dialogue metrics come back to the driver.
- `score_dataset(ds, ...)`: a `ray.data.Dataset` of dialogue records (rows as in a JSONL log) -> a
  Dataset of per-turn records, for inputs too large for one driver; `summarize(...)` computes the
  summary (aggregates, bootstrap CIs, gates) on the driver from those records with the local code.
"""
from __future__ import annotations

from .cluster import connect, require_ray
from .datasets import ROW_SOURCE, score_dataset, summarize
from .ray_pool import RayPool, use_ray

__all__ = ["connect", "require_ray", "score_dataset", "summarize", "RayPool", "use_ray", "ROW_SOURCE"]
