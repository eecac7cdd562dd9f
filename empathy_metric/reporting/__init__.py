"""What a run reports: the summary and its bootstrap CIs, gates and their JUnit file, the metric
catalog, and the comparison of two releases. Pure functions over per-dialogue metrics."""
