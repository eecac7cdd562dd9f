"""Progress on stderr: an ETA that does not jump under bursty arrivals, a bar that fits 80 columns,
plain lines on a timer with the percentage and the ETA, words in the right number. A fake clock
drives every test: nothing here depends on how fast the machine is."""
import io
import random

import pytest
from rich.console import Console
from rich.progress import Progress

from empathy_metric.cli.progress import EtaEstimator, PlainProgress, bar_columns, duration, plural
from empathy_metric.cli.report import counts_line

pytestmark = pytest.mark.scoring


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_eta_from_a_smoothed_rate_does_not_jump_when_chunks_arrive_in_bursts():
    # 3,000 records scored at ~20/s, but coming back as chunks of 300-700 records every 15-35 s (as
    # --workers returns them); the ETA is read every second, as the bar redraws.
    clock, rng = FakeClock(), random.Random(7)
    estimator = EtaEstimator(3000, clock)
    start, done, arrivals = clock.now, 0, []
    while done < 3000:
        size = min(rng.randint(300, 700), 3000 - done)
        done += size
        arrivals.append((start + done / 20.0 + rng.uniform(-2, 2), done))
    readings, pending = [], list(arrivals)
    for second in range(int(arrivals[-1][0] - start) + 1):
        clock.now = start + second
        while pending and pending[0][0] <= clock.now:
            estimator.update(pending.pop(0)[1])
        readings.append((second, estimator.done, estimator.eta()))
    known = [(s, d, eta) for s, d, eta in readings if eta is not None]
    assert known and known[0][0] <= arrivals[0][0] - start + 1       # known from the first chunk on
    for (_, _, before), (_, _, after) in zip(known, known[1:]):
        # a second later the ETA is about a second lower, give or take the chunks' jitter: never
        # the 0:00:01 -> 1:36 -> 0:24 of a rate taken over the last few seconds of bursts
        assert abs(after - before + 1) <= 0.2 * before + 3, (before, after)
    true_left = {s: 3000 / 20.0 - s for s, _, _ in known}
    assert all(abs(eta - true_left[s]) <= 0.35 * 150 for s, _, eta in known)


def test_eta_counts_down_between_updates_and_stops_at_zero():
    clock = FakeClock()
    estimator = EtaEstimator(100, clock)
    assert estimator.eta() is None                      # nothing done yet: unknown, not 0
    clock.now += 10
    estimator.update(50)
    assert estimator.eta() == pytest.approx(10.0)
    clock.now += 4
    assert estimator.eta() == pytest.approx(6.0)
    clock.now += 60
    assert estimator.eta() == 0.0
    assert EtaEstimator(None, clock).eta() is None      # stdin: no total, no ETA


def test_plain_lines_come_on_the_timer_with_percentage_and_eta_even_between_dialogues(capsys):
    clock = FakeClock(0.0)
    progress = PlainProgress(total=3000, interval=10.0, clock=clock)
    for tenth in range(1, 330):                         # the timer ticks; a burst arrives at 25 s
        clock.now = tenth / 10
        if tenth == 15:
            progress(1, 1, 1)                           # one dialogue, one turn: singular words
        if tenth == 250:
            progress(500, 40, 1200)
        progress.tick()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [                                   # the first line within 2 s, then every 10 s
        "scoring: 1/3000 records (0%), 1 dialogue, 1 agent turn, 2s elapsed, about 1h14m left",
        "scoring: 1/3000 records (0%), 1 dialogue, 1 agent turn, 12s elapsed, about 1h14m left",
        "scoring: 1/3000 records (0%), 1 dialogue, 1 agent turn, 22s elapsed, about 1h14m left",
        "scoring: 500/3000 records (17%), 40 dialogues, 1200 agent turns, 32s elapsed, about 1m58s left",
    ]


@pytest.mark.parametrize("total", [30, 3000, 3_000_000, None])
def test_bar_fits_80_columns_whatever_the_total(total):
    clock = FakeClock()
    estimator = EtaEstimator(total, clock)
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None, legacy_windows=False)
    with Progress(*bar_columns(estimator), console=console, auto_refresh=False) as progress:
        task = progress.add_task("", total=total)
        clock.now += 20
        done = (total or 3000) * 17 // 100
        estimator.update(done)
        progress.update(task, completed=done)
        progress.refresh()
    last = out.getvalue().split("\r")[-1].replace("\x1b[2K", "").split("\n")[0]
    assert "…" not in last and len(last) <= 80
    assert f"{done}/{total if total else '?'}" in last and "records" in last
    if total:
        assert "17%" in last and f"ETA {duration((total - done) / (done / 20))}" in last


def test_counts_line_uses_singular_for_one():
    counts = {"dialogues_scored": 1, "turns_scored": 1, "turns_context": 1, "turns_skipped": {"non_dialogue_role": 1},
              "dialogues_skipped": {}, "records_skipped": {}}
    assert counts_line(counts, "m") == ("1 dialogue, 1 agent turn scored, 1 context turn, 1 turn skipped "
                                        "(non_dialogue_role 1), 0 records skipped (model m)")
    assert plural(2, "gate") == "2 gates" and plural(0, "record") == "0 records"
