"""Build (or finish building) the human training material of whole corpora, from the shell:

    python -m emosynth.voice.learning.make_material --data ../shared/data/ravdess \
        --data ../shared/data/nemo --workers 1

A separate module so that ``-m`` does not run :mod:`.material` a second time beside the package's
own import of it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..backbone import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from .material import build_material, material_dir

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m emosynth.voice.learning.make_material --data DIR [--data DIR] [--workers N]``:
    build (or finish building) the material of every clip, logging what was left out."""
    import argparse

    from ...recognizer.corpus import read_corpora

    parser = argparse.ArgumentParser(description="Align every RAVDESS/nEMO clip to Kokoro and cache it.")
    parser.add_argument("--data", action="append", required=True, help="a corpus folder; repeat for several")
    parser.add_argument("--workers", type=int, default=1, help="processes for the per-clip work (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips of each corpus")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    clips = read_corpora(args.data) if args.limit is None else [
        c for folder in args.data for c in read_corpora([folder])[:args.limit]]
    material = build_material(clips, workers=args.workers)
    frames = sum(m.n_frames for m in material)
    log.info("%d of %d clips in %s (%.1f min of aligned audio)", len(material), len(clips), material_dir(),
             frames * SAMPLES_PER_FRAME / SAMPLE_RATE_HZ / 60)


if __name__ == "__main__":
    main()
