"""Writing an emotion timeline out: a terminal table, JSON, CSV and a PNG strip.

Kept apart from :mod:`.timeline` (which computes it) so that module stays about the method. Every
file is written atomically: a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from ..io import atomic_path, write_text_atomic

__all__ = ["TimelineOutputs", "LABEL_COLOURS", "CSV_COLUMNS"]

#: One colour per label, the same in every plot (silence is a light grey).
LABEL_COLOURS: dict[str, str] = {
    "neutral": "#9e9e9e", "joy": "#f2b701", "sadness": "#3969ac", "anger": "#e73f74", "fear": "#7f3c8d",
    "disgust": "#11a579", "surprise": "#f97b2c", "silence": "#eeeeee",
}
#: The CSV's header, in order.
CSV_COLUMNS = ("start_s", "end_s", "label", "confidence")


class TimelineOutputs:
    """Writers shared by :class:`~emosynth.recognizer.timeline.EmotionTimeline` (which supplies
    ``segments``, ``duration_s``, ``source``, the window arrays and ``to_dict``)."""

    def format_table(self) -> str:
        """One line per segment: start, end, duration, label, confidence."""
        lines = [f"{'start':>9} {'end':>9} {'dur':>7}  {'label':<9} {'conf':>5}"]
        for s in self.segments:
            lines.append(f"{_clock(s.start_s):>9} {_clock(s.end_s):>9} {s.duration_s:>7.2f}  {s.label:<9} "
                         f"{s.confidence:>5.2f}")
        return "\n".join(lines)

    def save_json(self, path: str | os.PathLike[str], *, windows: bool = False) -> None:
        """The timeline as JSON (``to_dict``), atomically."""
        write_text_atomic(path, json.dumps(self.to_dict(windows=windows), indent=1) + "\n")

    def save_csv(self, path: str | os.PathLike[str]) -> None:
        """One row per segment, columns ``CSV_COLUMNS``, seconds to the millisecond, atomically."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for s in self.segments:
            writer.writerow([f"{s.start_s:.3f}", f"{s.end_s:.3f}", s.label, f"{s.confidence:.4f}"])
        write_text_atomic(path, buffer.getvalue())

    def save_png(self, path: str | os.PathLike[str], *, title: str | None = None) -> None:
        """A coloured strip of the segments over time with a legend, and below it each window's
        probabilities, drawn off-screen (Agg) and written atomically."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        minutes = self.duration_s > 600  # an axis in minutes reads better for long files
        scale = 1 / 60 if minutes else 1.0
        fig = Figure(figsize=(12, 4.2), dpi=100)
        FigureCanvasAgg(fig)
        strip, curves = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2.4]})
        for label in LABEL_COLOURS:
            spans = [(s.start_s * scale, s.duration_s * scale) for s in self.segments if s.label == label]
            if spans:
                strip.broken_barh(spans, (0, 1), facecolors=LABEL_COLOURS[label], edgecolor="none")
        strip.set_ylim(0, 1)
        strip.set_yticks([])
        strip.set_title(title or f"emotion timeline: {os.path.basename(self.source)}", fontsize=10)
        present = [l for l in LABEL_COLOURS if any(s.label == l for s in self.segments)]
        strip.legend(handles=[Patch(facecolor=LABEL_COLOURS[l], edgecolor="#555555", linewidth=0.5, label=l)
                              for l in present], loc="upper center", bbox_to_anchor=(0.5, -0.05),
                     ncol=len(present), fontsize=8, frameon=False)
        x = np.asarray(self.window_centres_s) * scale
        shown = np.where(np.asarray(self.window_trusted)[:, None], self.window_probabilities, np.nan)  # gaps: no vote
        for k, emotion in enumerate(PRIMARY_EMOTIONS):
            curves.plot(x, shown[:, k], color=LABEL_COLOURS[emotion], linewidth=1.0)
        curves.set_ylim(0, 1)
        curves.set_ylabel("window probability\n(windows with speech)", fontsize=8)
        curves.set_xlim(0, self.duration_s * scale)
        curves.set_xlabel("time (min)" if minutes else "time (s)")
        curves.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")


def _clock(seconds: float) -> str:
    """Seconds as m:ss.ss (h:mm:ss.s past an hour), for the table."""
    if seconds >= 3600:
        h, rest = divmod(seconds, 3600)
        return f"{int(h)}:{int(rest // 60):02d}:{rest % 60:04.1f}"
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"
