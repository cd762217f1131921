from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "emosynth" / "data"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emosynth", *args], capture_output=True, text=True, timeout=300)


def test_help_explains_every_command():
    out = run("--help")
    assert out.returncode == 0
    for command in ("score", "eval", "train-ser", "emotions"):
        assert command in out.stdout
        sub = run(command, "--help")
        assert sub.returncode == 0 and "Usage:" in sub.stdout and len(sub.stdout.splitlines()) > 5


def test_score_with_no_files_reads_the_shipped_samples():
    out = run("score", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert sorted(Path(r["file"]).name for r in rows) == [
        "ravdess-12-anger.flac", "ravdess-12-joy.flac", "ravdess-12-sadness.flac"]
    for r in rows:
        assert r["ok"] and set(r["probabilities"]) == {"neutral", "joy", "sadness", "anger", "fear", "disgust", "surprise"}


def test_score_table_and_reference(tmp_path):
    refs = sorted((SAMPLES / "references").glob("*.flac"))
    out = run("score", str(SAMPLES / "samples" / "ravdess-12-anger.flac"), "-r", str(refs[0]), "-r", str(refs[1]))
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.strip().splitlines()
    assert header.split()[:5] == ["file", "label", "conf", "val", "aro"]
    assert row.split()[0] == "ravdess-12-anger.flac" and row.split()[-1] == "yes"


def test_bad_files_get_one_line_errors_and_the_rest_is_scored(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    out = run("score", "--json", str(tmp_path / "missing.wav"), str(text), str(SAMPLES / "samples" / "ravdess-12-joy.flac"))
    assert out.returncode == 1
    rows = json.loads(out.stdout)
    assert [r["ok"] for r in rows] == [False, False, True]
    assert "no such file" in rows[0]["error"] and "cannot be read as audio" in rows[1]["error"]
    assert "Traceback" not in out.stderr
    assert out.stderr.count("error:") == 2


def test_bad_reference_and_bad_corpus_are_errors_not_tracebacks(tmp_path):
    out = run("score", "-r", str(tmp_path / "nope.wav"), str(SAMPLES / "samples" / "ravdess-12-joy.flac"))
    assert out.returncode == 1 and "nope.wav: no such file" in out.stderr and "Traceback" not in out.stderr
    out = run("train-ser", "--data", str(tmp_path))
    assert out.returncode == 1 and "no labelled speech clips" in out.stderr and "Traceback" not in out.stderr


def test_fit_emotions_refuses_bad_input_before_any_work(tmp_path):
    out = run("fit-emotions", "--data", str(tmp_path / "missing"))
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr
    out = run("fit-emotions", "--data", str(tmp_path), "--voice", "kuma")
    assert out.returncode == 2 and "unknown voice 'kuma'" in out.stderr and "Traceback" not in out.stderr
    out = run("fit-emotions")
    assert out.returncode == 2 and "--data is required" in out.stderr and "Traceback" not in out.stderr
    out = run("fit-emotions", "--tokens-only", "--references-only")
    assert out.returncode == 2 and "exclude each other" in out.stderr and "Traceback" not in out.stderr
    if importlib.util.find_spec("torch") is not None:  # the fit itself needs torch (extra: fit)
        out = run("fit-emotions", "--data", str(tmp_path))
        assert out.returncode == 1 and "no labelled speech clips" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "emotions.json").exists()


def test_emotions_lists_the_vocabulary():
    out = run("emotions", "--json")
    assert out.returncode == 0, out.stderr
    vocab = json.loads(out.stdout)
    assert set(vocab) == {"primaries", "secondaries", "aliases", "grammar"}
    rows = vocab["primaries"]
    assert [r["emotion"] for r in rows] == ["neutral", "joy", "sadness", "anger", "fear", "disgust", "surprise"]
    assert next(r for r in rows if r["emotion"] == "sadness")["arousal"] < 0
    delight = next(r for r in vocab["secondaries"] if r["emotion"] == "delight")
    assert delight["components"] == ["joy", "surprise"] and delight["dyad"] == "tertiary"
    assert vocab["aliases"]["happy"] == "joy" and "va:V,A" in vocab["grammar"]
    text = run("emotions")
    assert text.returncode == 0 and "disapproval -> disappointment" in text.stdout and "va:0.6,0.4" in text.stdout


def test_eval_writes_report_and_plot_and_prints_json(tmp_path):
    manifest = tmp_path / "targets.csv"
    manifest.write_text(
        "file,emotion,speaker\n"
        "samples/ravdess-12-anger.flac,anger,a12\n"
        "samples/ravdess-12-joy.flac,joy,a12\n"
        "samples/ravdess-12-sadness.flac,sadness,a12\n"
        "references/ravdess-12-neutral-1.flac,neutral,a12\n"
        "references/ravdess-12-neutral-2.flac,neutral,a12\n"
    )
    quality = importlib.util.find_spec("speechmos") is not None and importlib.util.find_spec("librosa") is not None
    out = run("eval", str(SAMPLES), "--manifest", str(manifest), "--out", str(tmp_path / "r.json"), "--json",
              *(["--quality"] if quality else []))
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert printed == saved and saved["n_clips"] == 5 and saved["n_errors"] == 0
    assert {c["mode"] for c in saved["clips"]} == {"speaker"}
    if quality:  # RAVDESS studio speech
        assert saved["quality"]["n_clips"] == 5 and all(2.0 < c["quality"]["overall"] < 4.0 for c in saved["clips"])
    assert (tmp_path / "r.confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.part"))


def test_eval_rejects_a_bad_manifest_without_writing(tmp_path):
    manifest = tmp_path / "targets.csv"
    manifest.write_text("file,emotion\nsamples/ravdess-12-joy.flac,glee\n")
    out = run("eval", str(SAMPLES), "--manifest", str(manifest), "--out", str(tmp_path / "r.json"))
    assert out.returncode == 1 and "glee" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_say_refuses_an_explicitly_empty_text_and_every_output_option_has_one_spelling(tmp_path):
    for text in ("", "   "):
        out = run("say", text, "-o", str(tmp_path / "x.wav"))
        assert out.returncode == 1 and "text is empty" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.wav").exists()
    for command in ("say", "animate", "batch", "train-ser", "eval"):
        assert "-o, --out" in run(command, "--help").stdout, command
