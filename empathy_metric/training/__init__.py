"""Training and evaluation (extra `train`). The scorer never imports this package."""
