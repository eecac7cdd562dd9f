"""Hugging Face `evaluate` metric: expressed and perceived empathy of generated responses.

Load it offline from the installed package:
    import empathy_metric, evaluate
    metric = evaluate.load(empathy_metric.EVALUATE_MODULE, keep_in_memory=True)
The work is done by the installed `empathy_metric` package (the same Scorer and aggregation as the
CLI); this file only adapts it to evaluate's interface.
"""
import datasets
import evaluate

from empathy_metric.api import context_list, prediction_text
from empathy_metric.evaluate_module.responses import ResponseScoring, evaluation_result
from empathy_metric.reporting.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES

_CITATION = """\
@inproceedings{xu-jiang-2024-multi,
    title = "Multi-dimensional Evaluation of Empathetic Dialogue Responses",
    author = "Xu, Zhichao and Jiang, Jiepu",
    booktitle = "Findings of the Association for Computational Linguistics: EMNLP 2024",
    month = nov,
    year = "2024",
    address = "Miami, Florida, USA",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2024.findings-emnlp.113",
    pages = "2066--2087",
}
"""

_DESCRIPTION = """\
Scores each generated response in its dialogue context for *expressed* empathy (the communicative
intents it carries: ESConv support strategies; EPITOME emotional reactions, interpretations and
explorations at none/weak/strong) and *perceived* empathy (0..1 scores learned from ESConv's seeker
survey), after Xu & Jiang, "Multi-dimensional Evaluation of Empathetic Dialogue Responses".
Runs offline with ONNX Runtime on the model bundle that ships with the `empathy-metric` package.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the generated responses (the agent's turn to be scored).
    contexts (`list` of `list` of `str`, or `list` of `str`): the turns before each response,
        oldest first, alternating user/agent and ending with the user's turn; one string is one
        user turn; "" or [] is no context.
    references: not used (evaluate drops it: it is not a declared input).
    model (`str`, optional): a bundle folder, a shipped model name, or "fast" (the 3-layer student,
        about 4.5x PyTorch on CPU); default: the shipped default model.
        Accepted by `evaluate.load(...)` and by `compute(...)`.
    batch_size (`int`, optional, default 128): most windows per ONNX Runtime call; results do
        not depend on it. Accepted by `load` and `compute`.
    bootstrap (`int`, optional, default 1000): bootstrap resamples (of responses) for confidence
        intervals of the corpus aggregates; 0 = no intervals.
    confidence (`float`, optional, default 0.95): confidence level of the intervals.
    seed (`int`, optional, default 0): bootstrap seed.
    details (`bool`, optional, default False): return the detailed structure below instead of
        flat numbers.
Returns:
    By default, flat numbers: one key per corpus metric (its mean over responses), headline metrics
    (`perceived.empathy` first) first, each followed by `<metric>_ci_low` and `<metric>_ci_high`
    (unless bootstrap=0); then `n_responses` and `n_skipped_empty` (empty predictions, not scored).
    Names and directions as listed by `empathy-score metrics`.
    With details=True:
    labels: {task: [label per response]}
    probs: {task: [{label: probability} per response]}
    perceived: {dimension: [0..1 score per response]}
    truncated: [whether the window had to be cut, per response]
    truncated_parts: [what was cut, per response: "turn" (the response itself), "context_before"]
    corpus: {metric: {"mean", "n_dialogues" (= responses), "n_turns", and with bootstrap
        "ci_low", "ci_high"}}; names and directions as listed by `empathy-score metrics`
    bootstrap: the bootstrap settings ({"n_resamples": 0} when off)
    n_responses, signature (model name, manifest sha256, package version)
Examples:
    >>> import empathy_metric, evaluate
    >>> metric = evaluate.load(empathy_metric.EVALUATE_MODULE, keep_in_memory=True)
    >>> out = metric.compute(predictions=["I'm so sorry, that sounds exhausting."],
    ...                      contexts=[["I failed my exam again."]])
    >>> out["perceived.empathy"], out["perceived.empathy_ci_low"]  # doctest: +SKIP
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class EmpathyMetric(evaluate.Metric):
    def __init__(self, *args, model=None, batch_size=128, device="cpu", threads=None, **kwargs):
        # evaluate passes load()'s extra kwargs here; the model loads lazily, once, on first compute
        super().__init__(*args, **kwargs)
        self.scoring = ResponseScoring(model=model, batch_size=batch_size, device=device, threads=threads)

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "contexts": datasets.Sequence(datasets.Value("string")),
            }),
            reference_urls=["https://aclanthology.org/2024.findings-emnlp.113"],
        )

    def add_batch(self, *, predictions=None, references=None, contexts=None, **kwargs):
        """Add a batch of responses and their contexts (a string context is one user turn).
        """
        # evaluate appends the inputs description to this docstring: it must exist.
        # A string context is stored as a one-turn list, so every row has one Arrow type; strings
        # are checked and cleaned here, before Arrow refuses them less clearly.
        if contexts is not None and not isinstance(contexts, str):
            contexts = [context_list(c, i) for i, c in enumerate(contexts)]
        if predictions is not None and not isinstance(predictions, str):
            predictions = [prediction_text(p, i) for i, p in enumerate(predictions)]
        return super().add_batch(predictions=predictions, references=references, contexts=contexts,
                                 **kwargs)

    def add(self, *, prediction=None, reference=None, contexts=None, **kwargs):
        """Add one response and its context.
        """
        if contexts is not None:
            contexts = context_list(contexts, 0)
        if prediction is not None:
            prediction = prediction_text(prediction, 0)
        return super().add(prediction=prediction, reference=reference, contexts=contexts, **kwargs)

    def _compute(self, predictions, contexts, model=None, batch_size=None, bootstrap=DEFAULT_RESAMPLES,
                 confidence=DEFAULT_CONFIDENCE, seed=0, details=False):
        scorer = self.scoring.scorer(model, batch_size)
        return evaluation_result(scorer, list(predictions), list(contexts), bootstrap, confidence, seed,
                                 details=details)
