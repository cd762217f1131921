"""Plain-text rendering of an :class:`~emosynth.evaluation.results.EvaluationReport`."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .metrics import EmotionAccuracy
    from .results import EvaluationReport, QualitySummary, SimilaritySummary, WerSummary

__all__ = ["format_report"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str = "+.2f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def _listing(values: dict[str, float], fmt: str = "+.2f") -> str:
    """``joy +0.80, anger +0.40``."""
    return ", ".join(f"{name} {_num(v, fmt)}" for name, v in values.items())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in [header, *rows]]


def _accuracy_lines(acc: EmotionAccuracy) -> list[str]:
    recall = acc.recall()
    rows = [[label, *(str(int(v)) for v in counts), _pct(recall[label])]
            for label, counts in zip(acc.labels, acc.confusion)]
    return [
        f"Emotion accuracy over {acc.n} clips, {len(acc.classes_present)} target classes: "
        f"UA {_pct(acc.ua)}, WA {_pct(acc.wa)}",
        "Confusion (rows: target, columns: predicted):",
        *_table(["target", *acc.labels, "recall"], rows),
    ]


def _monotonicity_lines(report: EvaluationReport) -> list[str]:
    if not report.monotonicity:
        return ["Intensity monotonicity: n/a (no emotion was asked for at 3 or more intensities)"]
    return [f"Intensity monotonicity (Spearman rho, intensity vs the emotion's probability): "
            f"{_listing(report.monotonicity)}; mean {_num(report.mean_monotonicity)}"]


def _wer_lines(wer: WerSummary) -> list[str]:
    if not wer.n_clips:
        return ["Word error rate: n/a (no clip has a reference text)"]
    rows = [[e, _pct(v), _pct(wer.delta_to_neutral.get(e)).replace("n/a", "-")]
            for e, v in wer.per_emotion.items()]
    return [f"Word error rate: {_pct(wer.corpus)} over {wer.n_clips} clips ({wer.n_words} words)",
            *_table(["target", "WER", "minus own neutral"], rows)]


def _similarity_lines(sim: SimilaritySummary) -> list[str]:
    if not sim.n_clips:
        return ["Speaker similarity: n/a (needs neutral clips of the same speaker)"]
    return [f"Speaker similarity to the speaker's neutral voice (cosine): mean "
            f"{_num(sim.mean, '.3f')} over {sim.n_clips} clips; {_listing(sim.per_emotion, '.3f')}"]


def _quality_lines(quality: QualitySummary) -> list[str]:
    rows = [[e, *(_num(s[k], ".2f") for k in ("overall", "signal", "background", "p808")),
             _num(quality.overall_delta_to_neutral.get(e)).replace("n/a", "-")]
            for e, s in quality.per_emotion.items()]
    return [f"Speech quality (DNSMOS, predicted opinion scores 1-5): overall {_num(quality.overall, '.2f')} "
            f"over {quality.n_clips} clips",
            *_table(["target", "OVRL", "SIG", "BAK", "P.808", "OVRL minus own neutral"], rows)]


def _clip_lines(report: EvaluationReport) -> list[str]:
    rows = [[c.file, c.target, c.scores.label, f"{c.scores.confidence:.2f}",
             _num(c.scores.valence), _num(c.scores.arousal), _pct(c.wer), _num(c.similarity, ".3f"),
             c.mode] for c in report.clips]
    header = ["file", "target", "read as", "conf", "valence", "arousal", "WER", "similarity", "mode"]
    return ["Clips:", *_table(header, rows)]


def format_report(report: EvaluationReport, *, per_clip: bool = False) -> str:
    """The report as lines of text, sections separated by blank lines."""
    modes = Counter(c.mode for c in report.clips)
    sections = [[
        f"Evaluated {report.n_clips} clips: {len(report.clips)} scored, {report.n_errors} failed",
        f"Scoring: {modes['speaker']} against the speaker's neutral clips, {modes['plain']} plain",
    ]]
    if report.accuracy.n:
        sections.append(_accuracy_lines(report.accuracy))
        sections.append(_monotonicity_lines(report) + [
            f"Valence r {_num(report.valence_r)}, arousal r {_num(report.arousal_r)} "
            "(Pearson, targets vs the recognizer's estimates)"])
    if report.wer is not None:
        sections.append(_wer_lines(report.wer))
    if report.similarity is not None:
        sections.append(_similarity_lines(report.similarity))
    if report.quality is not None and report.quality.n_clips:
        sections.append(_quality_lines(report.quality))
    if per_clip and report.clips:
        sections.append(_clip_lines(report))
    if report.errors:
        sections.append([f"Failed clips ({report.n_errors}):",
                         *(f"  {e.file}: {e.reason}" for e in report.errors)])
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
