"""The `empathy-score` command line. Modules import heavy libraries only inside commands."""
