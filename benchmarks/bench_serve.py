"""Measure ``emosynth serve`` on loopback: streaming latency, load, memory, and a soak of bad requests.

    python benchmarks/bench_serve.py --out benchmarks/results/serve.json            # the full run
    python benchmarks/bench_serve.py --stream-requests 5 --per-client 2 --memory-requests 40 \\
        --bad-requests 120 --out /tmp/serve_small.json                             # a reduced run

Starts its own server (``python -m emosynth serve`` on a free loopback port, ``--workers`` workers,
the default queue of 2 per worker) unless ``--url`` names one, and measures, each phase bounded in
count and all of them in time (``--max-minutes``; a phase cut short says so):

* Stream: time to first audio on ``WS /v1/stream`` for a two-sentence text whose first sentence has
  8 words (face and verdict on, as the page asks), p50 and p95 over ``--stream-requests``
  sequential requests; and the real-time factor of the whole request (time to ``end`` / audio length).
* Load: ``--per-client`` requests of ``POST /v1/audio/speech`` (one short sentence, pcm) from each of
  1, 2, 4 and 8 concurrent clients: throughput, latency p50/p95 of the answered ones, and every
  status seen; 0 errors are expected while clients <= workers + queue, and clean 503s with
  Retry-After above it.
* Memory: the server's resident memory before and after ``--memory-requests`` requests (speech, say
  with the face, and streams in turn, two clients at once); the growth is held to ``--memory-bound-mib``.
* Bad requests: ``--bad-requests`` malformed or hostile requests (broken and deeply nested JSON,
  wrong types, unknown fields and voices, text too long, garbage and truncated uploads, NaN speed,
  oversized bodies, bad WebSocket messages); every one must get a 4xx (never a 5xx or a dropped
  connection), and the server must still be healthy and speak afterwards.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from websockets.sync.client import connect

from emosynth.cpus import usable_cpus
from emosynth.io import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
STREAM_TEXT = "The train to the coast leaves at ten. We will be there by noon, and the sea will be calm."
LOAD_TEXT = "The train leaves at ten."


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


# -- the server ----------------------------------------------------------------------------------------
def start_server(workers: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "emosynth", "serve", "--port", str(port), "--workers", str(workers)],
                            cwd=ROOT, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited; see {log_path}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start in 300 s")


# -- phases ---------------------------------------------------------------------------------------------
def stream_once(base: str, rid: str) -> dict:
    url = base.replace("http://", "ws://") + "/v1/stream"
    with connect(url, max_size=2**24) as ws:
        sent = time.perf_counter()
        ws.send(json.dumps({"id": rid, "text": STREAM_TEXT, "emotion": "joy:0.6", "face": True, "score": True}))
        first = None
        while True:
            m = ws.recv(timeout=300)
            if isinstance(m, bytes):
                first = first if first is not None else time.perf_counter() - sent
                continue
            m = json.loads(m)
            if m["type"] in ("end", "error"):
                total = time.perf_counter() - sent
                if m["type"] == "error" or m["status"] != "done":
                    raise RuntimeError(f"stream failed: {m}")
                return {"first_audio_s": first, "total_s": total, "audio_s": m["duration_s"]}


def phase_stream(base: str, n: int, deadline: float) -> dict:
    runs = []
    for i in range(n):
        if time.monotonic() > deadline:
            break
        runs.append(stream_once(base, f"s{i}"))
    first = [r["first_audio_s"] for r in runs]
    rtf = [r["total_s"] / r["audio_s"] for r in runs]
    return {"requests": len(runs), "asked": n, "text": STREAM_TEXT, "first_sentence_words": 8,
            "first_audio_s": {"p50": _pct(first, 50), "p95": _pct(first, 95), "min": _pct(first, 0)},
            "rtf": {"p50": _pct(rtf, 50), "p95": _pct(rtf, 95)},
            "audio_s_mean": round(statistics.fmean(r["audio_s"] for r in runs), 3) if runs else None}


def phase_load(base: str, clients: int, per_client: int, deadline: float, queue_places: int) -> dict:
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    retry_after_ok = True
    lock = threading.Lock()

    def client() -> None:
        nonlocal retry_after_ok
        with httpx.Client(timeout=300) as http:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                try:
                    r = http.post(f"{base}/v1/audio/speech", json={"model": "tts-1", "input": LOAD_TEXT,
                                                                   "response_format": "pcm"})
                    key = str(r.status_code)
                except httpx.TransportError as exc:
                    key, r = f"transport:{type(exc).__name__}", None
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
                    if r is not None and r.status_code == 200:
                        latencies.append(time.perf_counter() - t)
                    if r is not None and r.status_code == 503:
                        retry_after_ok &= r.headers.get("retry-after", "").isdigit()
                        time.sleep(0.2)  # a polite client backs off a little before its next request

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: client(), range(clients)))
    wall = time.perf_counter() - start
    ok = statuses.get("200", 0)
    errors = sum(v for k, v in statuses.items() if k not in ("200", "503"))
    return {"clients": clients, "requests": sum(statuses.values()), "statuses": statuses,
            "throughput_rps": round(ok / wall, 3), "latency_s": {"p50": _pct(latencies, 50), "p95": _pct(latencies, 95)},
            "errors_other_than_503": errors, "within_queue_limit": clients <= queue_places,
            "busy_503": statuses.get("503", 0), "retry_after_on_every_503": retry_after_ok}


def phase_memory(base: str, pid: int, n: int, deadline: float, bound_mib: float) -> dict:
    done = [0]
    lock = threading.Lock()

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        kind = i % 3
        if kind == 0:
            httpx.post(f"{base}/v1/audio/speech", timeout=300, json={"model": "tts-1", "input": LOAD_TEXT})
        elif kind == 1:
            httpx.post(f"{base}/v1/say", timeout=300, json={"text": LOAD_TEXT, "face": True, "emotion": "anger:0.5"})
        else:
            stream_once(base, f"m{i}")
        with lock:
            done[0] += 1

    with ThreadPoolExecutor(2) as pool:  # every kind twice first: first-use allocations are not growth
        list(pool.map(one, range(6)))
        done[0] = 0
        before = _rss_mib(pid)
        list(pool.map(one, range(n)))
    after = _rss_mib(pid)
    return {"requests": done[0], "asked": n, "rss_before_mib": before, "rss_after_mib": after,
            "growth_mib": round(after - before, 1), "bound_mib": bound_mib, "within_bound": after - before <= bound_mib}


# -- bad requests ---------------------------------------------------------------------------------------
def _wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def bad_requests(n: int, seed: int) -> list[tuple[str, str, dict]]:
    """(method, path, httpx keyword arguments) for ``n`` bad requests, drawn from the kinds below."""
    rng = random.Random(seed)
    junk = lambda k: bytes(rng.getrandbits(8) for _ in range(k))
    speech = {"model": "tts-1", "input": "Hello."}
    good_wav = _wav(np.sin(np.arange(16000) / 8.0).astype(np.float32) * 0.3)
    nan_wav = _wav(np.full(16000, np.nan, dtype=np.float32), subtype="FLOAT")
    kinds = [
        lambda: ("POST", "/v1/audio/speech", {"content": junk(rng.randint(1, 2000)),
                                              "headers": {"content-type": "application/json"}}),
        lambda: ("POST", "/v1/audio/speech", {"content": json.dumps(speech)[:rng.randint(1, 30)],
                                              "headers": {"content-type": "application/json"}}),
        lambda: ("POST", "/v1/say", {"content": "[" * rng.randint(1000, 100000),
                                     "headers": {"content-type": "application/json"}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, rng.choice(["input", "speed", "emotion"]):
                                                       rng.choice([None, 5, [], {}, True, -1e308])}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "voice": rng.choice([5, [], {}, True, ""])}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "input": "x" * rng.randint(4097, 50000)}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "input": rng.choice(["", " \n\t ", "\u200b"])}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "voice": "zz" + junk(6).hex()}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "emotion": "zz" + junk(5).hex() + ":" + str(rng.random())}}),
        lambda: ("POST", "/v1/audio/speech", {"content": '{"model": "tts-1", "input": "Hi.", "speed": NaN}',
                                              "headers": {"content-type": "application/json"}}),
        lambda: ("POST", "/v1/audio/speech", {"json": {**speech, "extra_" + junk(3).hex(): 1}}),
        lambda: ("POST", "/v1/say", {"json": {"text": "Hi.", "fps": rng.choice([0, 29, -30, "30fps", 1e9])}}),
        lambda: ("POST", "/v1/say", {"json": {"text": "Hi.", "seed": rng.choice([-1, 2**40, "s"])}}),
        lambda: ("POST", "/v1/score", {"files": {"file": ("x.wav", junk(rng.randint(0, 5000)))}}),
        lambda: ("POST", "/v1/score", {"files": {"file": ("x.wav", good_wav[:rng.randint(1, 60)])}}),
        lambda: ("POST", "/v1/score", {"files": {"file": ("nan.wav", nan_wav)}}),
        lambda: ("POST", "/v1/score", {"files": {"file": ("short.wav", _wav(np.full(800, 0.2, np.float32)))}}),
        lambda: ("POST", "/v1/score", {"files": {"file": ("quiet.wav", _wav(np.zeros(16000, np.float32)))}}),
        lambda: ("POST", "/v1/score", {"data": {"timeline": "maybe"}, "files": {"file": ("a.wav", good_wav)}}),
        lambda: ("POST", "/v1/score", {"json": {"file": "a.wav"}}),
        lambda: ("POST", "/v1/animate", {"files": {"file": ("a.wav", good_wav)},
                                         "data": {rng.choice(["fps", "format", "emotion", "seed"]): "zz"}}),
        lambda: ("POST", "/v1/animate", {"files": {"file": ("a.wav", good_wav)}, "data": {"text": " "}}),
        lambda: ("RAW", "/v1/say", {"head": f"Content-Length: {rng.choice([10**12, 10**8])}", "body": b"\0" * 100}),
        lambda: ("RAW", "/v1/say", {"head": "Content-Length: -5", "body": b"{}"}),
        lambda: ("PUT", "/v1/say", {"json": {"text": "Hi."}}),
        lambda: ("GET", "/v1/audio/" + junk(8).hex(), {}),
        lambda: ("GET", "/" + junk(4).hex() + "/../../etc/passwd", {}),
        lambda: ("GET", "/static/../settings.py", {}),
    ]
    return [kinds[rng.randrange(len(kinds))]() for _ in range(n)]


def bad_ws_messages(rng: random.Random, n: int) -> list[str | bytes]:
    kinds = [lambda: "{" * rng.randint(1, 5000), lambda: bytes(rng.getrandbits(8) for _ in range(50)),
             lambda: json.dumps({"type": "speak", "id": "b", "text": ""}),
             lambda: json.dumps({"type": "speak", "id": "x" * 100, "text": "Hi."}),
             lambda: json.dumps({"type": "cancel", "id": "nothing"}),
             lambda: json.dumps({"type": "speak", "id": "b", "text": "Hi.", "emotion": "zz"}),
             lambda: json.dumps([1, 2, 3]), lambda: json.dumps({"type": 5})]
    return [kinds[rng.randrange(len(kinds))]() for _ in range(n)]


def _raw(base: str, path: str, head: str, body: bytes) -> int:
    """A request httpx would refuse to send (a Content-Length that lies); the status the server answers."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{head}\r\n"
                  "Connection: close\r\n\r\n".encode() + body)
        return int(s.recv(4096).split(b" ", 2)[1])


def phase_bad(base: str, n: int, seed: int) -> dict:
    statuses: dict[str, int] = {}
    failures: list[dict] = []
    with httpx.Client(timeout=120) as http:
        for method, path, kwargs in bad_requests(n, seed):
            r = None
            try:
                if method == "RAW":
                    code = _raw(base, path, **kwargs)
                    key, bad = str(code), not 400 <= code < 500
                else:
                    r = http.request(method, base + path, **kwargs)
                    key = str(r.status_code)
                    bad = not (400 <= r.status_code < 500) or "Traceback" in r.text or "error" not in r.json()
            except (httpx.TransportError, OSError, ValueError) as exc:
                key, bad = f"transport:{type(exc).__name__}", True
            statuses[key] = statuses.get(key, 0) + 1
            if bad and len(failures) < 10:
                sent = {k: (v if k == "json" else repr(v)[:200]) for k, v in kwargs.items()}
                failures.append({"method": method, "path": path[:80], "status": key, "request": sent,
                                 "answer": r.text[:300].encode("ascii", "replace").decode() if r is not None else None})
    ws_n = max(1, n // 5)
    ws_errors = 0
    url = base.replace("http://", "ws://") + "/v1/stream"
    with connect(url) as ws:
        for message in bad_ws_messages(random.Random(seed + 1), ws_n):
            ws.send(message)
            answer = json.loads(ws.recv(timeout=60))
            ws_errors += answer.get("type") == "error"
    healthy = httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
    speaks = httpx.post(f"{base}/v1/audio/speech", timeout=300, json={"model": "tts-1", "input": LOAD_TEXT}).status_code
    return {"requests": n, "statuses": statuses, "not_4xx": sum(v for k, v in statuses.items() if not k.startswith("4")),
            "failures": failures, "ws_messages": ws_n, "ws_refused_cleanly": ws_errors,
            "healthy_after": healthy, "speaks_after": speaks == 200}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="Measure a running server instead of starting one (memory is then not measured).")
    ap.add_argument("--workers", type=int, default=usable_cpus(),
                    help="server workers (default: the CPUs this process may use, as emosynth serve)")
    ap.add_argument("--stream-requests", type=int, default=30)
    ap.add_argument("--concurrency", default="1,2,4,8")
    ap.add_argument("--per-client", type=int, default=5)
    ap.add_argument("--memory-requests", type=int, default=500)
    ap.add_argument("--memory-bound-mib", type=float, default=64.0)
    ap.add_argument("--bad-requests", type=int, default=300)
    ap.add_argument("--max-minutes", type=float, default=90.0, help="Phases stop starting requests past this.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    ap.add_argument("--phases", default="stream,load,memory,bad",
                    help="Phases to run; a subset updates their entries in an existing --out file.")
    args = ap.parse_args()
    phases = set(args.phases.split(","))

    deadline = time.monotonic() + 60 * args.max_minutes
    proc = None
    base = args.url
    if base is None:
        proc, base = start_server(args.workers, Path("/tmp") / f"bench_serve_{os.getpid()}.log")
    try:
        pool = httpx.get(f"{base}/healthz").json()["pool"]
        results = {"command": "python " + " ".join(sys.argv), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "server": pool | {"url": "loopback"}, "date": time.strftime("%Y-%m-%d")}
        if phases != {"stream", "load", "memory", "bad"} and args.out.exists():
            results = {**json.loads(args.out.read_text()), f"command_{'_'.join(sorted(phases))}": results["command"]}
        t = time.monotonic()
        if "stream" in phases:
            results["stream"] = phase_stream(base, args.stream_requests, deadline)
            print("stream", json.dumps(results["stream"]), flush=True)
        if "load" in phases:
            places = pool["workers"] + pool["queue_limit"]
            results["load"] = []
            for c in (int(x) for x in args.concurrency.split(",")):
                results["load"].append(phase_load(base, c, args.per_client, deadline, places))
                print("load", json.dumps(results["load"][-1]), flush=True)
        if "memory" in phases and proc is not None:
            results["memory"] = phase_memory(base, proc.pid, args.memory_requests, deadline, args.memory_bound_mib)
            print("memory", json.dumps(results["memory"]), flush=True)
        if "bad" in phases:
            results["bad_requests"] = phase_bad(base, args.bad_requests, args.seed)
            print("bad", json.dumps(results["bad_requests"]), flush=True)
        results["elapsed_s"] = round(time.monotonic() - t, 1)
        results["cut_short_by_max_minutes"] = time.monotonic() > deadline
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    write_text_atomic(args.out, json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
