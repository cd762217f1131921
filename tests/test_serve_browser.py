"""The avatar page in a real headless browser (Debian's chromium driven by Playwright) against a real
``emosynth serve``: the head loads with its 52 morph targets, a request streams, the audio is
scheduled on WebAudio, and the morph targets move while it plays. A screenshot taken while the avatar
speaks is kept (in $EMOSYNTH_TEST_ARTEFACTS when set, else pytest's temporary folder)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a root, offline, GPU-less machine: no sandbox (root), no network the machine refuses anyway.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                               "(apt-get install -y chromium; .ci/run installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the test extra)")

_INFLUENCES = """() => {
  const a = window.emosynth.avatar, m = a.mesh;
  return {influences: Array.from(m.morphTargetInfluences), jaw: m.morphTargetInfluences[m.morphTargetDictionary.jawOpen],
          head: [a.head.rotation.x, a.head.rotation.y, a.head.rotation.z], playing: window.emosynth.state.playing,
          scheduled: window.emosynth.player.scheduled, clock: window.emosynth.player.ctx.currentTime,
          audio: window.emosynth.player.ctx.state, ended: window.emosynth.state.ended.length};
}"""


@pytest.fixture(scope="module")
def page(serve_server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 620})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{serve_server.base}/")
        page.wait_for_function("window.emosynth && (window.emosynth.state.ready || window.emosynth.state.errors.length)",
                               timeout=60_000)
        page.errors = errors
        yield page
        browser.close()


def test_the_page_loads_the_head_and_the_pickers(page):
    state = page.evaluate("window.emosynth.state")
    assert state["ready"] and not state["errors"] and not page.errors
    names = page.evaluate("Object.keys(window.emosynth.avatar.mesh.morphTargetDictionary)")
    assert len(names) == 52 and "jawOpen" in names and "mouthSmileLeft" in names
    assert page.locator("#voice option").count() == 5 and page.locator("#voice").input_value() == "kumo"
    assert page.locator("#emotion option").count() > 7
    page.check("input[name=mode][value=va]")  # the pad sets a valence-arousal point
    box = page.locator("#pad").bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + 0.2 * box["height"])
    assert page.locator("#spec").text_content() == "va:0.60,0.60"
    page.check("input[name=mode][value=named]")
    page.select_option("#emotion", "joy")
    page.fill("#intensity", "0.9")
    assert page.locator("#spec").text_content() == "joy:0.90"


def test_a_request_streams_plays_and_moves_the_face(page, tmp_path):
    page.fill("#text", "Good morning to you. The train leaves at ten.")
    page.click("#speak")
    samples, shot, shot_jaw = [], None, 0.15
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        s = page.evaluate(_INFLUENCES)
        samples.append(s)
        if s["playing"] and s["jaw"] > shot_jaw + 0.05:  # keep the widest-open mouth seen
            shot, shot_jaw = page.screenshot(), s["jaw"]
        if s["ended"] and not s["playing"] and any(x["playing"] for x in samples):
            break
        time.sleep(0.05)
    state = page.evaluate("window.emosynth.state")
    assert state["ended"] and state["ended"][-1]["status"] == "done", state
    assert state["pieces"] == 2 and len(state["verdicts"]) == 2 and not page.errors
    assert samples[-1]["scheduled"] >= 2 and samples[-1]["audio"] == "running"
    playing = [s for s in samples if s["playing"]]
    assert len(playing) >= 10, "the audio clock never ran through the scheduled speech"
    assert playing[-1]["clock"] > playing[0]["clock"]
    weights = np.array([s["influences"] for s in playing])
    assert weights.std(axis=0).max() > 0.05  # morph targets change frame by frame while it plays
    assert max(s["jaw"] for s in playing) > 0.15 and len({round(s["jaw"], 3) for s in playing}) > 5
    assert np.ptp(np.array([s["head"] for s in playing]), axis=0).max() > 1e-3  # and the head moves
    assert shot is not None
    folder = Path(os.environ.get("EMOSYNTH_TEST_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serve_page.png").write_bytes(shot)
    canvas = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))[20:532, 20:532].astype(float)
    skin = (canvas[..., 0] > 150) & (canvas[..., 0] > canvas[..., 2] + 20)
    assert skin.mean() > 0.1, "the avatar was not drawn"
