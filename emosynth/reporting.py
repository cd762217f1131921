"""Plain-text tables for the terminal; JSON comes from the result objects' ``to_dict``."""

from __future__ import annotations

from collections.abc import Sequence

from .emotions import PRIMARY_EMOTIONS
from .recognizer.recognizer import ScoredFile

__all__ = ["format_scores_table", "format_confusion", "format_training_record"]

_SHORT = {"neutral": "neu", "joy": "joy", "sadness": "sad", "anger": "ang", "fear": "fea",
          "disgust": "dis", "surprise": "sur"}


def format_scores_table(outcomes: Sequence[ScoredFile]) -> str:
    """One line per file: label, confidence, valence, arousal and every probability."""
    width = max([len("file")] + [len(o.path.name) for o in outcomes])
    probs = " ".join(f"{_SHORT[e]:>5}" for e in PRIMARY_EMOTIONS)
    lines = [f"{'file':<{width}}  {'label':<9} {'conf':>5} {'val':>6} {'aro':>6}  {probs}  ref"]
    for o in outcomes:
        if o.scores is None:
            lines.append(f"{o.path.name:<{width}}  (not scored: see error below)")
            continue
        s = o.scores
        p = " ".join(f"{s.probabilities[e]:>5.2f}" for e in PRIMARY_EMOTIONS)
        ref = "yes" if s.speaker_normalised else "no"
        lines.append(f"{o.path.name:<{width}}  {s.label:<9} {s.confidence:>5.2f} {s.valence:>+6.2f} "
                     f"{s.arousal:>+6.2f}  {p}  {ref}")
    return "\n".join(lines)


def format_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str] = PRIMARY_EMOTIONS) -> str:
    """Confusion matrix as text: rows are true labels, columns predictions."""
    head = "true \\ pred " + " ".join(f"{_SHORT.get(l, l[:3]):>5}" for l in labels)
    rows = [f"{l:<11} " + " ".join(f"{int(v):>5}" for v in row) for l, row in zip(labels, confusion)]
    return "\n".join([head, *rows])


def format_training_record(info: dict) -> str:
    """What `train-ser` did: corpus size and, if run, the cross-validated accuracy per mode and corpus."""
    lines = [f"corpus {info['corpus']}: {info['n_clips']} clips, {info['n_speakers']} speakers"
             + (f", {info['n_copies']} perturbed training copies" if info.get("n_copies") else ""),
             "clips per emotion: " + ", ".join(f"{e} {n}" for e, n in info["clips_per_emotion"].items())]
    for corpus, classes in info.get("classes_by_corpus", {}).items():
        lines.append(f"{corpus} labels: {', '.join(classes)}")
    if info.get("skipped"):
        lines.append(f"skipped {len(info['skipped'])} unreadable clips")
    cv = info.get("cross_validation")
    if cv:
        lines.append(f"cross-validation: {cv['protocol']}")
        for mode, title in (("plain", "no reference"), ("speaker", "with a neutral reference of the speaker")):
            r = cv[mode]
            lines.append(f"\n{title}: UA {r['ua']:.3f} (mean over corpora)  WA {r['wa']:.3f}  "
                         f"(fold UA {min(r['fold_ua']):.3f}-{max(r['fold_ua']):.3f})")
            for corpus, res in r.get("by_corpus", {}).items():
                lines.append(f"{corpus}: UA {res['ua']:.3f}  WA {res['wa']:.3f}  ({res['n_clips']} clips)")
                lines.append(format_confusion(res["confusion"]))
            if not r.get("by_corpus"):
                lines.append(format_confusion(r["confusion"]))
    lines.append(f"\nchosen C: {info.get('c')}")
    return "\n".join(lines)
