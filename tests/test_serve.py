"""emosynth serve end to end: a real server on a loopback port, real HTTP (httpx, the openai client)
and WebSocket (websockets) clients, real speech."""

from __future__ import annotations

import base64
import io
import json
import struct
import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve tests need the extra emosynth[serve]")
import httpx
from serve_support import ThreadServer
from websockets.sync.client import connect

from emosynth.emotions import parse_emotion
from emosynth.face import animate
from emosynth.face.arkit import ARKIT_BLENDSHAPES
from emosynth.serve import ServeSettings
from emosynth.serve.engine import SentenceFace
from emosynth.synthesizer import Synthesizer

SHORT = "Hello there."
TWO = "Good morning to you. The train leaves at ten."
LONG_FIRST = "Good morning to all of you in the quiet harbour town by the sea. The train leaves at ten."
# 60 sentences (3,800 characters): over a minute of work even on an idle machine, so a worker that is
# back within seconds was freed by the test's cancel, disconnect or time limit, not by the text ending.
LONG = " ".join(f"Sentence number {n} is here to keep the worker busy for a while." for n in range(1, 61))


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/stream"


class Inbox:
    """A WebSocket's answers sorted by request id; a binary message is joined to its audio header."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.by_id: dict[str, list[dict]] = {}
        self._read: dict[str, int] = {}

    def until(self, rid: str, kinds: set[str], timeout_s: float = 120.0) -> tuple[list, dict]:
        """Messages for ``rid`` not returned before, up to and including the first of ``kinds``."""
        deadline = time.monotonic() + timeout_s
        while True:
            box = self.by_id.get(rid, [])
            for i in range(self._read.get(rid, 0), len(box)):
                if box[i]["type"] in kinds:
                    first, self._read[rid] = self._read.get(rid, 0), i + 1
                    return box[first:i + 1], box[i]
            self._receive(deadline)

    def _receive(self, deadline: float) -> None:
        recv = lambda: self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        m = json.loads(recv())
        if m["type"] == "audio":
            m["_data"] = recv()  # the binary message always comes right after its header
            assert isinstance(m["_data"], bytes)
        self.by_id.setdefault(m.get("id"), []).append(m)


def read_until(ws, rid: str, kinds: set[str], timeout_s: float = 120.0) -> tuple[list, dict]:
    return Inbox(ws).until(rid, kinds, timeout_s)


def pool(base: str) -> dict:
    return httpx.get(f"{base}/healthz").json()["pool"]


def wait_idle(base: str, timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        p = pool(base)
        if p["running"] == 0 and p["waiting"] == 0:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"the worker was not freed within {timeout_s} s: {pool(base)}")


def error_of(r: httpx.Response, status: int, param: str | None) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["param"] == param and err["message"], err
    assert "Traceback" not in r.text
    return err["message"]


# -- speech ------------------------------------------------------------------------------------------
def test_openai_client_speaks_with_an_emotion_and_reads_the_verdict(serve_server, tmp_path):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{serve_server.base}/v1", api_key="unused", max_retries=0, timeout=120)
    raw = client.audio.speech.with_raw_response.create(model="tts-1", voice="kumo", input=SHORT,
                                                       response_format="wav", extra_body={"emotion": "joy:0.7"})
    audio, rate = sf.read(io.BytesIO(raw.content))
    assert rate == 24000 and 0.5 < len(audio) / rate < 3.0 and np.max(np.abs(audio)) > 0.05
    verdict = json.loads(raw.headers["x-emosynth-verdict"])
    assert abs(sum(verdict["probabilities"].values()) - 1) < 1e-3 and verdict["speaker_normalised"]
    assert raw.headers["x-emosynth-emotion"] == "joy:0.70" and raw.headers["x-emosynth-voice"] == "kumo"
    with pytest.raises(openai.BadRequestError, match="unknown voice 'alloy'"):
        client.audio.speech.create(model="tts-1", voice="alloy", input=SHORT)
    with client.audio.speech.with_streaming_response.create(  # the example in docs/serve.md
            model="tts-1", voice="kumo", input=SHORT, response_format="flac", extra_body={"emotion": "joy:0.7"}) as r:
        r.stream_to_file(tmp_path / "joy.flac")
    assert sf.info(str(tmp_path / "joy.flac")).samplerate == 24000


@pytest.mark.parametrize("fmt", ["flac", "pcm"])
def test_speech_formats_hold_the_same_samples(serve_server, fmt):
    body = {"model": "kokoro", "input": SHORT, "voice": "kumo", "response_format": fmt, "speed": 1.2}
    r = httpx.post(f"{serve_server.base}/v1/audio/speech", json=body, timeout=120)
    assert r.status_code == 200, r.text
    if fmt == "pcm":  # OpenAI's pcm: 16-bit little-endian at 24 kHz, no header
        assert r.headers["content-type"] == "audio/pcm" and len(r.content) % 2 == 0
        samples = np.frombuffer(r.content, "<i2")
    else:
        samples, rate = sf.read(io.BytesIO(r.content), dtype="int16")
        assert rate == 24000
    assert len(samples) / 24000 == pytest.approx(float(r.headers["x-emosynth-duration-s"]), abs=1e-3)


def test_faster_speech_is_shorter(serve_server):
    def duration(speed: float) -> float:
        r = httpx.post(f"{serve_server.base}/v1/audio/speech", timeout=120,
                       json={"model": "tts-1", "input": TWO, "response_format": "pcm", "speed": speed})
        return len(r.content) / 2 / 24000
    assert duration(1.6) < 0.8 * duration(1.0)


def test_say_returns_timings_verdict_face_and_audio_by_url(serve_server):
    base = serve_server.base
    r = httpx.post(f"{base}/v1/say", timeout=120, json={"text": SHORT, "emotion": "anger:0.8", "face": True,
                                                        "fps": 60, "audio": "url", "format": "flac"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["emotion"]["text"] == "anger:0.80" and d["scores"]["label"] in d["scores"]["probabilities"]
    assert d["phonemes"] and d["phonemes"][-1]["end_s"] <= d["duration_s"] and len(d["f0_hz"]) > 10
    face = d["face"]
    assert face["fps"] == 60 and set(face["blendshapes"]) == set(ARKIT_BLENDSHAPES)
    assert face["n_frames"] == pytest.approx(d["duration_s"] * 60, abs=2)
    assert max(face["blendshapes"]["jawOpen"]) > 0.1  # the mouth moves
    url = d["audio"]["url"]
    audio = httpx.get(url)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/flac"
    assert sf.info(io.BytesIO(audio.content)).duration == pytest.approx(d["duration_s"], abs=1e-3)
    assert "fetched once" and httpx.get(url).status_code == 404  # each URL answers once


def test_say_inline_audio_matches_the_timings(serve_server):
    r = httpx.post(f"{serve_server.base}/v1/say", timeout=120, json={"text": SHORT, "score": False})
    d = r.json()
    assert d["scores"] is None and d["face"] is None
    samples, rate = sf.read(io.BytesIO(base64.b64decode(d["audio"]["base64"])))
    assert len(samples) == round(d["duration_s"] * rate)


# -- recordings --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spoken_wav(serve_server) -> bytes:
    r = httpx.post(f"{serve_server.base}/v1/audio/speech", timeout=120,
                   json={"model": "tts-1", "input": TWO, "emotion": "sadness"})
    return r.content


def test_score_and_timeline_of_an_upload(serve_server, spoken_wav):
    base = serve_server.base
    r = httpx.post(f"{base}/v1/score", files={"file": ("talk.wav", spoken_wav, "audio/wav")}, timeout=120)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["file"] == "talk.wav" and s["scores"]["speaker_normalised"] is False
    assert abs(sum(s["scores"]["probabilities"].values()) - 1) < 1e-3
    r = httpx.post(f"{base}/v1/score", files={"file": ("talk.wav", spoken_wav)}, data={"timeline": "true"},
                   timeout=120)
    t = r.json()["timeline"]
    assert t["segments"] and t["segments"][-1]["end_s"] == pytest.approx(t["duration_s"], abs=0.01)


@pytest.mark.parametrize("fmt", ["json", "csv", "glb"])
def test_animate_an_upload_in_each_format(serve_server, spoken_wav, fmt):
    r = httpx.post(f"{serve_server.base}/v1/animate", files={"file": ("talk.wav", spoken_wav)},
                   data={"format": fmt, "emotion": "joy", "fps": "25", "text": TWO}, timeout=120)
    assert r.status_code == 200, r.text
    duration = sf.info(io.BytesIO(spoken_wav)).duration
    if fmt == "json":
        d = r.json()
        assert d["fps"] == 25 and d["n_frames"] == pytest.approx(duration * 25, abs=2)
        assert d["info"]["emotion"]["text"] == "joy:1.00" and "aligned" in d["info"]["mouth"]
    elif fmt == "csv":
        lines = r.text.splitlines()
        assert lines[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft") and len(lines) > duration * 20
    else:
        magic, version, length = struct.unpack("<4sII", r.content[:12])
        assert magic == b"glTF" and version == 2 and length == len(r.content)
        n = struct.unpack("<I", r.content[12:16])[0]
        doc = json.loads(r.content[20:20 + n])
        assert doc["meshes"][0]["extras"]["targetNames"] == list(ARKIT_BLENDSHAPES) and doc["animations"]


# -- catalogues, page, docs ---------------------------------------------------------------------------
def test_catalogues_health_docs_and_page(serve_server):
    base = serve_server.base
    voices = httpx.get(f"{base}/v1/voices").json()
    assert voices["default"] == "kumo" and {v["voice"] for v in voices["voices"]} >= {"kumo", "alpha"}
    emotions = httpx.get(f"{base}/v1/emotions").json()
    assert [p["emotion"] for p in emotions["primaries"]][:2] == ["neutral", "joy"] and emotions["grammar"]
    spec = httpx.get(f"{base}/openapi.json").json()
    assert {"/v1/audio/speech", "/v1/say", "/v1/score", "/v1/animate", "/v1/voices", "/healthz"} <= set(spec["paths"])
    docs = httpx.get(f"{base}/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert httpx.get(f"{base}/static/swagger/swagger-ui-bundle.js").status_code == 200
    page = httpx.get(f"{base}/").text
    assert '"three": "/static/three/three.module.js"' in page and "http" not in page.split("<body>")[0].replace(
        'http-equiv', '')  # nothing loaded from elsewhere
    glb = httpx.get(f"{base}/avatar.glb")
    assert glb.headers["content-type"] == "model/gltf-binary" and glb.content[:4] == b"glTF"


# -- the stream ------------------------------------------------------------------------------------
def test_stream_sends_sentences_with_audio_face_and_verdicts(serve_server):
    with connect(ws_url(serve_server.base), max_size=2**24) as ws:
        ws.send(json.dumps({"type": "speak", "id": "a", "text": LONG_FIRST, "emotion": "joy:0.6", "fps": 30}))
        msgs, end = read_until(ws, "a", {"end", "error"})
    assert end["type"] == "end" and end["status"] == "done", end
    start = msgs[0]
    assert start["type"] == "start" and start["blendshapes"] == list(ARKIT_BLENDSHAPES)
    audio = [m for m in msgs if m["type"] == "audio"]
    pieces = [m for m in msgs if m["type"] == "piece"]
    verdicts = [m for m in msgs if m["type"] == "verdict"]
    assert [m["seq"] for m in pieces] == [m["seq"] for m in verdicts] == [0, 1]
    assert [m["seq"] for m in audio] == sorted(m["seq"] for m in audio) and {m["seq"] for m in audio} == {0, 1}
    # the long first sentence's sound comes in pieces, the first well under a second long
    assert sum(m["seq"] == 0 for m in audio) >= 2 and audio[0]["n_samples"] < 24_000
    clock = 0.0
    for a in audio:  # the pieces follow one another without gaps on the request's clock
        assert len(a["_data"]) == 2 * a["n_samples"] and a["start_s"] == pytest.approx(clock, abs=1e-5)
        clock += a["n_samples"] / 24000
    faces = [m for m in msgs if m["type"] == "face"]
    for p in pieces:
        mine = [a for a in audio if a["seq"] == p["seq"]]
        face = [f for f in faces if f["seq"] == p["seq"]]
        assert msgs.index(mine[-1]) < msgs.index(face[-1]) < msgs.index(p)  # sound, its face, then the sentence
        assert msgs.index(face[0]) < msgs.index(mine[-1]) or len(mine) == 1  # faces come with the sound, not after it
        assert p["start_s"] == mine[0]["start_s"] == face[0]["start_s"]
        assert p["duration_s"] == pytest.approx(sum(a["n_samples"] for a in mine) / 24000, abs=1e-4)
        at = p["start_s"]
        for f in face:  # stretches of frames that follow one another on the sound's clock
            assert f["fps"] == 30 and f["start_s"] == pytest.approx(at, abs=1e-5)
            assert len(f["weights"]) == len(f["head_rotation"]) == len(f["gaze"]) == f["n_frames"] > 0
            assert len(f["weights"][0]) == 52 and len(f["head_rotation"][0]) == 3
            at += f["n_frames"] / 30
        assert at - p["start_s"] == pytest.approx(p["duration_s"], abs=1 / 30)
        assert all(p["start_s"] <= ph["start_s"] < ph["end_s"] <= p["start_s"] + p["duration_s"] + 1e-6
                   for ph in p["phonemes"])
    assert end["duration_s"] == pytest.approx(clock, abs=1e-3) and end["pieces"] == 2
    # Stretches are animated one by one, yet the head carries on across them and the smile eases
    # in once, at the start of the request, not at each sentence.
    head = np.concatenate([np.array(f["head_rotation"]) for f in faces])
    steps = np.abs(np.diff(head, axis=0)).max(axis=1)
    seams = np.cumsum([f["n_frames"] for f in faces])[:-1] - 1  # the step from one stretch into the next
    inside = np.delete(steps, seams)
    assert steps[seams].max() <= 2 * inside.max(), (steps[seams], inside.max())
    smile = ARKIT_BLENDSHAPES.index("mouthSmileLeft")
    first_of = {f["seq"]: f for f in reversed(faces)}
    assert first_of[0]["weights"][0][smile] < 0.05 < first_of[1]["weights"][0][smile]
    assert msgs.index(audio[0]) < msgs.index(verdicts[0])  # sound first, the verdict after it
    assert all(v["scores"] is None or v["scores"]["label"] for v in verdicts)


def test_a_sentence_face_made_piece_by_piece_is_the_whole_sentences_face():
    synth = Synthesizer("kumo")
    pieces: list = []
    chunk = next(synth.stream(LONG_FIRST, on_audio=pieces.append))
    face = SentenceFace(emotion=parse_emotion("joy:0.6"), fps=30, seed=3, ease_in=True, previous=None)
    parts = [r for r in map(face.add, pieces) if r is not None]
    assert len(pieces) >= 3 and len(parts) >= 3
    assert [first for first, _ in parts] == list(np.cumsum([0] + [t.n_frames for _, t in parts[:-1]]))
    streamed = np.concatenate([t.weights for _, t in parts])
    whole = animate(chunk.audio, 24_000, chunk.phonemes, emotion="joy:0.6", fps=30, seed=3)
    assert streamed.shape == whole.weights.shape
    last = parts[-1][1].n_frames  # the last stretch comes from the whole sentence's animation
    assert np.array_equal(streamed[-last:], whole.weights[-last:])
    jaw = ARKIT_BLENDSHAPES.index("jawOpen")  # elsewhere the mouth follows the same sound, up to the seams
    assert np.corrcoef(streamed[:, jaw], whole.weights[:, jaw])[0, 1] > 0.9
    assert np.abs(streamed - whole.weights).mean() < 0.02


def test_stream_requests_share_a_connection_and_one_can_be_cancelled(serve_server):
    with connect(ws_url(serve_server.base), max_size=2**24) as ws:
        inbox = Inbox(ws)
        ws.send(json.dumps({"id": "long", "text": LONG, "face": False, "score": False}))
        ws.send(json.dumps({"id": "short", "text": SHORT, "face": False}))
        inbox.until("long", {"audio"})
        ws.send(json.dumps({"type": "cancel", "id": "long"}))
        _, end_long = inbox.until("long", {"end"})
        _, end_short = inbox.until("short", {"end"})
        ws.send(json.dumps({"type": "cancel", "id": "long"}))  # no longer running
        _, late = inbox.until("long", {"error"})
    assert end_long["status"] == "cancelled" and end_long["pieces"] <= 3
    assert end_short["status"] == "done" and end_short["pieces"] == 1
    assert late["error"]["param"] == "id" and "no running request" in late["error"]["message"]


@pytest.mark.parametrize("message, param, words", [
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "JSON object"),
    (json.dumps({"type": "sing", "id": "x"}), "type", "accepted: speak, cancel"),
    (json.dumps({"id": "x", "text": ""}), "text", "empty"),
    (json.dumps({"id": "x", "text": "a" * 5000}), "text", "at most 4096"),
    (json.dumps({"id": "x", "text": "Hi.", "voice": "nobody"}), "voice", "unknown voice"),
    (json.dumps({"id": "x", "text": "Hi.", "emotion": "joy:9"}), "emotion", "joy:9"),
    (json.dumps({"id": "x", "text": "Hi.", "fps": 31}), "fps", "24, 25, 30, 50 or 60"),
    (json.dumps({"id": "x", "text": "Hi.", "loud": True}), "loud", "accepted fields"),
])
def test_stream_refuses_bad_messages_and_keeps_the_connection(serve_server, message, param, words):
    with connect(ws_url(serve_server.base)) as ws:
        ws.send(message)
        err = json.loads(ws.recv(timeout=30))
        assert err["type"] == "error" and err["error"]["param"] == param and words in err["error"]["message"], err
        ws.send(b"\x00\x01")
        assert "JSON text" in json.loads(ws.recv(timeout=30))["error"]["message"]


def test_a_client_that_disconnects_frees_its_worker(serve_server):
    base = serve_server.base
    with connect(ws_url(base), max_size=2**24) as ws:
        ws.send(json.dumps({"id": "gone", "text": LONG, "face": False, "score": False}))
        read_until(ws, "gone", {"audio"})
    wait_idle(base, 20.0)  # back after the sentence in hand, not after sixty
    with pytest.raises(httpx.ReadTimeout):  # an HTTP client that gives up cancels its job too
        httpx.post(f"{base}/v1/say", json={"text": LONG, "score": False}, timeout=1.5)
    wait_idle(base, 20.0)


# -- bad HTTP requests ---------------------------------------------------------------------------------
SPEECH = {"model": "tts-1", "input": "Hi."}


@pytest.mark.parametrize("body, param, words", [
    ({**SPEECH, "input": "   "}, "input", "empty"),
    ({**SPEECH, "input": "x" * 4097}, "input", "at most 4096"),
    ({**SPEECH, "voice": "kumo:0.5,nobody"}, "voice", "unknown voice 'nobody'"),
    ({**SPEECH, "voice": ""}, "voice", "leave the field out"),
    ({**SPEECH, "emotion": "joyful rage"}, "emotion", "joyful rage"),
    ({**SPEECH, "response_format": "mp3"}, "response_format", "'wav', 'flac' or 'pcm'"),
    ({**SPEECH, "speed": 0.25}, "speed", "0.5 to 2"),
    ({**SPEECH, "speed": "fast"}, "speed", "valid number"),
    ({**SPEECH, "speed": True}, "speed", "valid number"),  # JSON as sent: no coercion
    ({"input": "Hi."}, "model", "required"),
    ({**SPEECH, "instructions": "be happy"}, "instructions", "accepted fields: model, input"),
])
def test_bad_speech_requests_name_the_field(serve_server, body, param, words):
    r = httpx.post(f"{serve_server.base}/v1/audio/speech", json=body, timeout=30)
    assert words in error_of(r, 400, param)


def test_malformed_bodies_and_uploads_get_clear_4xx(serve_server, spoken_wav):
    base = serve_server.base
    post = lambda path, **kw: httpx.post(f"{base}{path}", timeout=60, **kw)
    assert "not valid JSON" in error_of(post("/v1/say", content=b'{"text": "Hi"', headers={
        "content-type": "application/json"}), 400, None)
    assert "JSON object" in error_of(post("/v1/say", json=["Hi"]), 400, None)
    assert "24, 25, 30, 50 or 60" in error_of(post("/v1/say", json={"text": "Hi.", "fps": 29}), 400, "fps")
    assert "required" in error_of(post("/v1/score", data={"timeline": "true"}), 400, "file")
    assert "cannot be read as audio" in error_of(post("/v1/score", files={"file": ("a.wav", b"RIFF not really")}),
                                                 400, "file")
    short = io.BytesIO()
    sf.write(short, np.full(2400, 0.1, dtype=np.float32), 24000, format="WAV")
    assert "too short" in error_of(post("/v1/score", files={"file": ("s.wav", short.getvalue())}), 400, "file")
    assert "'json', 'csv' or 'glb'" in error_of(post("/v1/animate", files={"file": ("t.wav", spoken_wav)},
                                                     data={"format": "fbx"}), 400, "format")
    assert "bad emotion spec" in error_of(post("/v1/animate", files={"file": ("t.wav", spoken_wav)},
                                               data={"emotion": "joy:2"}), 400, "emotion")
    assert "no such endpoint" in error_of(httpx.get(f"{base}/v1/nothing"), 404, None)
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"


# -- limits: a full queue, the time limit, the API key, the body size ----------------------------------
@pytest.fixture(scope="module")
def tight():
    server = ThreadServer(ServeSettings(workers=1, queue_size=0, timeout_s=60, warm_up=False)).start()
    yield server.base
    server.stop()


def test_a_full_queue_answers_503_with_retry_after(tight):
    with connect(ws_url(tight), max_size=2**24) as ws:
        inbox = Inbox(ws)
        ws.send(json.dumps({"id": "busy", "text": LONG, "face": False, "score": False}))
        inbox.until("busy", {"start"})
        r = httpx.post(f"{tight}/v1/audio/speech", json=SPEECH, timeout=30)
        error_of(r, 503, None)
        assert int(r.headers["retry-after"]) >= 1
        ws.send(json.dumps({"id": "second", "text": SHORT}))
        _, refused = inbox.until("second", {"error"})
        assert refused["error"]["code"] == "busy" and refused["retry_after_s"] >= 1
        ws.send(json.dumps({"type": "cancel", "id": "busy"}))
        _, end = inbox.until("busy", {"end"})
        assert end["status"] == "cancelled"
    wait_idle(tight, 30.0)
    assert pool(tight)["rejected"] == 2
    assert httpx.post(f"{tight}/v1/audio/speech", json=SPEECH, timeout=120).status_code == 200


def test_the_time_limit_answers_504_and_stops_the_work():
    server = ThreadServer(ServeSettings(workers=1, timeout_s=1.0, warm_up=False)).start()
    try:
        started = time.monotonic()
        r = httpx.post(f"{server.base}/v1/say", json={"text": LONG, "score": False}, timeout=120)
        assert "time limit of 1 s" in error_of(r, 504, None)
        assert time.monotonic() - started < 5.0  # answered at the limit, not when the work ended
        wait_idle(server.base, 20.0)  # the job stopped after its sentence in hand, not after sixty
    finally:
        server.stop()


def test_api_key_cors_and_body_limit():
    settings = ServeSettings(api_key="s3cret", cors_origins=("http://localhost:3000",), max_upload_bytes=4096,
                             warm_up=False)
    server = ThreadServer(settings).start()
    base = server.base
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200  # open for health checks
        assert "no API key" in error_of(httpx.get(f"{base}/v1/voices"), 401, "api_key")
        assert "wrong" in error_of(httpx.get(f"{base}/v1/voices", headers={"Authorization": "Bearer nope"}),
                                   401, "api_key")
        assert httpx.get(f"{base}/v1/voices", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{base}/v1/voices", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert httpx.get(f"{base}/").status_code == 401
        with httpx.Client() as browser:  # the page once with the key, then its cookie carries it
            assert browser.get(f"{base}/?api_key=s3cret").status_code == 200
            assert browser.get(f"{base}/avatar.glb").status_code == 200
        with pytest.raises(Exception, match="403"):
            connect(ws_url(base)).close()
        with connect(ws_url(base), additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            ws.send("{}")
            assert json.loads(ws.recv(timeout=30))["error"]["param"] == "text"
        allowed = httpx.options(f"{base}/v1/voices", headers={"Origin": "http://localhost:3000",
                                                             "Access-Control-Request-Method": "GET"})
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = httpx.options(f"{base}/v1/voices", headers={"Origin": "http://evil.example",
                                                           "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in other.headers
        key = {"Authorization": "Bearer s3cret"}
        big = httpx.post(f"{base}/v1/score", headers=key, files={"file": ("big.wav", b"\0" * 10000)})
        assert "4096 bytes" in error_of(big, 413, "body")

        def chunks():  # no Content-Length: refused while it streams in
            for _ in range(10):
                yield b"x" * 1000
        streamed = httpx.post(f"{base}/v1/say", headers={**key, "content-type": "application/json"}, content=chunks())
        assert streamed.status_code == 413 and "more was being sent" in streamed.json()["error"]["message"]
    finally:
        server.stop()


def test_no_cors_headers_unless_asked(serve_server):
    r = httpx.options(f"{serve_server.base}/v1/voices", headers={"Origin": "http://localhost:3000",
                                                                 "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers
