"""Files in and out: readers (dialogue logs -> Dialogue), writers (per-turn records, the run summary),
and resume (continuing an interrupted run from its own output)."""
