"""Shared fixtures: where the human speech corpus is, and skipping cleanly where it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"


@pytest.fixture(scope="session")
def ravdess() -> Path:
    """The RAVDESS folder beside the checkout (../shared/data/ravdess), or a skip saying why."""
    if not RAVDESS.is_dir():
        pytest.skip(f"needs the RAVDESS corpus at {RAVDESS} (CI has it; a bare clone does not)")
    return RAVDESS


NEMO = RAVDESS.parent / "nemo"


@pytest.fixture(scope="session")
def nemo() -> Path:
    """The nEMO folder beside the checkout (../shared/data/nemo), or a skip saying why."""
    if not (NEMO / "data.tsv").is_file():
        pytest.skip(f"needs the nEMO corpus at {NEMO} (CI has it; a bare clone does not)")
    return NEMO


@pytest.fixture(scope="session")
def six_clips(ravdess):
    """Six RAVDESS clips of actor 01 (two neutral, two angry, two sad) as emotion-fit material
    (aligned to Kokoro; cached after the first run). Needs torch and pyworld."""
    pytest.importorskip("torch", reason="the emotion fit needs torch (extra: speaker)")
    pytest.importorskip("pyworld", reason="F0 targets need pyworld (extra: train or profiles)")
    from emosynth.recognizer.corpus import read_corpus
    from emosynth.voice.learning.material import build_material

    codes = {"01": "neutral", "05": "anger", "04": "sadness"}  # RAVDESS's emotion field
    picked = []
    for code in codes:
        picked += sorted((ravdess / "Actor_01").glob(f"03-01-{code}-*.flac"))[-2:]
    clips = {c.path: c for c in read_corpus(ravdess)}
    assert len(picked) == 6 and all(clips[p].emotion == codes[p.name[6:8]] for p in picked)
    return build_material([clips[p] for p in picked], progress=False)


@pytest.fixture(scope="session")
def serve_server(tmp_path_factory):
    """One ``emosynth serve`` (2 workers) for the serve tests and the browser test: a real child process
    on a free loopback port, stopped at the end of the session."""
    pytest.importorskip("fastapi", reason="the serve tests need the extra emosynth[serve]")
    from serve_support import CliServer

    server = CliServer("--workers", "2", "--queue-size", "4", "--timeout", "120",
                       log_path=tmp_path_factory.mktemp("serve") / "server.log").start()
    yield server
    server.stop()
