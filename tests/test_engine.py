"""Where chunks run is one object, chosen once from the options, that declares what it can do
(scoring/engine.py); the scorer asks it, never which pool it holds."""
import pytest

pytestmark = pytest.mark.scoring


def test_the_options_choose_the_engine_and_its_capabilities(tiny_bundle):
    from empathy_metric.api import CpuStages, Scorer
    from empathy_metric.runtime import PreparedBackend
    one = Scorer.from_pretrained(str(tiny_bundle))
    assert (one.engine.name, one.workers, one.engine.uses_pool) == ("local", 1, False)
    here = Scorer.from_pretrained(str(tiny_bundle), workers=2, inference="here")
    assert here.engine.uses_pool and here.engine.reads_blocks and here.engine.model_in_parent
    assert here.worker_recipe is here.stages_recipe
    assert isinstance(here.backend, PreparedBackend)
    assert not isinstance(here.worker_recipe(threads=1).backend, PreparedBackend)   # CpuStages holds no model
    assert isinstance(here.worker_recipe(threads=1).backend, CpuStages)
    there = Scorer.from_pretrained(str(tiny_bundle), workers=2, inference="workers")
    assert not there.engine.model_in_parent and there.worker_recipe is there.recipe
    assert not there.engine.writes_shards


def test_the_block_size_is_a_parameter(tiny_bundle):
    from empathy_metric.api import Scorer
    default = Scorer.from_pretrained(str(tiny_bundle), workers=2)
    small = Scorer.from_pretrained(str(tiny_bundle), workers=2, bytes_per_window=32)
    chunk = default.backend.windows_per_chunk
    assert (default.block_bytes, small.block_bytes) == (chunk * 320, chunk * 32)


def test_a_pooled_engine_pools_even_one_worker_and_reads_no_blocks(tiny_bundle):
    from empathy_metric.api import Scorer
    from empathy_metric.pipeline.parallel import WorkerPool
    from empathy_metric.scoring.engine import pooled_engine
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    scorer.run_on(pooled_engine("ray", 1, WorkerPool, writes_shards=True))
    assert scorer.engine.uses_pool and scorer.engine.writes_shards
    assert not scorer.reads_in_workers(["any.jsonl"], None)
