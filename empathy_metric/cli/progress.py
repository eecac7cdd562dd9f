"""Progress on stderr while `score` and `analyze` run: a bar on a terminal, plain lines in a CI log.

Scored dialogues come back in bursts (a chunk of ~512 turns at a time with --workers), so neither the
count nor a rate measured over the last few seconds moves smoothly. The ETA therefore comes from
`EtaEstimator`: the mean rate since the start (steady under bursts), and between two updates it counts
down with the clock instead of waiting for the next burst. Both displays redraw on a timer (the bar
twice a second from the start, plain lines FIRST_UPDATE_S after the start and then every
PLAIN_INTERVAL_S), not only when a dialogue finishes.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import click

PLAIN_INTERVAL_S = 10.0         # a progress line this often when stderr is not a terminal (a CI log)
TICK_S = 0.5                    # how often the displays look at the clock
FIRST_UPDATE_S = 2.0            # a plain run's first line (a run done sooner prints none)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class EtaEstimator:
    """Seconds left from a smoothed rate: records done / time since the start, taken at the last
    update; between updates the estimate counts down with `clock`. A burst of records at the rate seen
    so far leaves the ETA where the countdown had brought it, so it does not jump."""

    def __init__(self, total: int | None, clock: Callable[[], float] = time.monotonic):
        self.total, self.clock = total, clock
        self.start = self.last = clock()
        self.done = 0
        self.rate: float | None = None

    def update(self, done: int) -> None:
        now = self.clock()
        if done > self.done and now > self.start:
            self.rate = done / (now - self.start)
            self.last = now
        self.done = done

    def eta(self) -> float | None:
        """Seconds left, or None while unknown (no total, nothing done yet)."""
        if not self.total or self.rate is None:
            return None
        left = max(self.total - self.done, 0) / self.rate - (self.clock() - self.last)
        return max(left, 0.0)

    def elapsed(self) -> float:
        return self.clock() - self.start


class PlainProgress:
    """Progress as plain lines on stderr, one every `interval` seconds: records (of the total, with the
    percentage and an ETA, when it is known), dialogues, agent turns, time elapsed. `tick()` prints one
    when it is due; a scoring run calls it from a timer (`ticking`), the callback calls it too."""

    def __init__(self, total: int | None, interval: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.interval, self.clock = total, interval, clock
        self.estimator = EtaEstimator(total, clock)
        self.last = self.estimator.start - interval + FIRST_UPDATE_S    # the first line after FIRST_UPDATE_S
        self.state = (0, 0, 0)
        self.lock = threading.Lock()

    def __call__(self, records: int, dialogues: int, turns: int) -> None:
        with self.lock:
            self.state = (records, dialogues, turns)
            self.estimator.update(records)
        self.tick()

    def line(self) -> str:
        records, dialogues, turns = self.state
        done = (f"{records}/{self.total} records ({records / self.total:.0%})" if self.total
                else plural(records, "record"))
        text = (f"scoring: {done}, {plural(dialogues, 'dialogue')}, {plural(turns, 'agent turn')}, "
                f"{duration(self.estimator.elapsed())} elapsed")
        eta = self.estimator.eta()
        return text + (f", about {duration(eta)} left" if eta is not None else "")

    def tick(self) -> None:
        with self.lock:
            now = self.clock()
            if now - self.last < self.interval:
                return
            self.last = now
            text = self.line()
        click.echo(text, err=True)


class Ticker:
    """Calls `tick()` every TICK_S seconds in a daemon thread until stopped."""

    def __init__(self, tick: Callable[[], None], every: float = TICK_S):
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(tick, every), daemon=True,
                                       name="empathy-score-progress")

    def _run(self, tick, every) -> None:
        while not self.stopped.wait(every):
            tick()

    def __enter__(self) -> "Ticker":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()


def bar_columns(estimator: EtaEstimator):
    """The bar's columns: `scoring ━━━━ 524/3000 records 17% 0:20 ETA 1:36`, short enough that no
    column is cut at 80 terminal columns (the bar takes what is left)."""
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TaskProgressColumn, TextColumn
    from rich.text import Text

    class Clock(ProgressColumn):
        def render(self, task) -> Text:
            eta = estimator.eta()
            return Text(f"{duration(estimator.elapsed())} · ETA {'–' if eta is None else duration(eta)}",
                        no_wrap=True)
    return (TextColumn("scoring"), BarColumn(bar_width=None), MofNCompleteColumn(), TextColumn("records"),
            TaskProgressColumn(), Clock())
