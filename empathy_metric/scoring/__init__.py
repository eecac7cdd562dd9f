"""The scoring engine below the public API (api.py re-exports it):

- scorer.py: `Scorer` (chunks of windows -> backend -> decoding -> dialogue scores)
- engine.py: where chunks run (this process, worker processes, Ray), with declared capabilities
- chunking.py: the run's bookkeeping in input order (duplicates, counts, chunks)
- workers.py, block_scoring.py, cpu_stages.py: what worker processes hold and do
- score_run.py, compare_run.py, analyze_run.py, responses.py: the runs (score, compare, analyze,
  the `evaluate` metric); run_summary.py: the summary of a run, local or Ray

This file holds no logic; import from the modules.
"""
