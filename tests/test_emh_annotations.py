"""EPITOME files annotate a few pairs twice: one window per pair, agreeing rows merged, disagreeing
rows leave the pair unlabelled for that mechanism (never "whichever row came last"), and it is counted."""
import csv

from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.training.data import EMH_FILES, emh_windows

HEADER = ["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"]
SEEKER, REPLY = "i feel so alone .", "i am sorry , what happened then ?"


def write_emh(folder, rows_of):
    folder.mkdir()
    for task, file_name in EMH_FILES.items():
        with open(folder / file_name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for sp, rp, level, spans in rows_of(task):
                writer.writerow([sp, rp, SEEKER, REPLY, level, spans])


def test_repeated_pairs_merge_when_they_agree_and_drop_the_label_when_they_differ(tmp_path):
    def rows_of(task):
        rows = [("s1", "r1", 0, ""), ("s2", "r2", 2, "i am sorry|"), ("s2", "r2", 2, "what happened then|"),
                ("s3", "r3", 1, "sorry|")]
        if task == "emh_interpretations":            # two annotators disagree on this pair only
            rows.append(("s3", "r3", 2, "what happened|"))
        return rows
    write_emh(tmp_path / "emh", rows_of)
    messages = []
    windows = {w.window.dialogue_id: w for w in emh_windows(str(tmp_path / "emh"), WindowSettings(), messages.append)}

    assert sorted(windows) == ["s1_r1", "s2_r2", "s3_r3"]              # one window per pair
    assert windows["s2_r2"].labels == {task: 2 for task in EMH_FILES}
    assert windows["s2_r2"].rationales["emh_explorations"] == "i am sorry|what happened then"
    assert windows["s3_r3"].labels == {"emh_emotional_reactions": 1, "emh_explorations": 1}
    assert "emh_interpretations" not in windows["s3_r3"].rationales
    assert ("EMH emh_interpretations: 2 pairs annotated more than once; 1 of them with different levels, "
            "left unlabelled for this task") in messages
    assert any(m.startswith("EMH emh_explorations: 1 pairs annotated more than once; 0 of them") for m in messages)
