"""emosynth batch: recipes, plans, the dataset folder, determinism, resuming after kill -9, Ray."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emosynth.batch import METADATA_COLUMNS, load_recipe, parse_recipe, plan_items, run_batch
from emosynth.errors import RecipeError

RECIPE = """\
name: test-grid
seed: 7
texts: {builtin: neutral-en}
voices: [kumo]
emotions:
  neutral: true
  primaries: [joy]
  intensities: [1.0]
per_condition: 2
output: {format: flac, sample_rate: 16000, face: true}
quality_gate: {min_probability: 0.5, action: flag}
"""


def _recipe(tmp_path: Path, text: str = RECIPE, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset folder (the card included) but the run state."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".batch" not in p.parts}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("batch")
    out = tmp / "ref"
    run_batch(load_recipe(_recipe(tmp)), out, workers=1, progress=False)
    return out


# -- recipes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (("per_condition: 2", "per_conditon: 2"), "unknown key 'per_conditon' in the top level (did you mean 'per_condition'?)"),
    (("intensities: [1.0]", "intensities: [1.0, 2.5]"), "above"),
    (("voices: [kumo]", "voices: [kuma]"), "kumo"),
    (("format: flac", "format: mp3"), "'output: format' must be one of flac, wav, got 'mp3'"),
    (("sample_rate: 16000", "sample_rate: 8000"), "must be one of 16000, 22050, 24000, 44100, 48000"),
    (("min_probability: 0.5", "min_probability: 2"), "must be a number in [0, 1]"),
    (("action: flag", "action: delete"), "must be one of flag, drop"),
    (("primaries: [joy]", "primaries: [delight]"), "is not a primary; put mixtures, secondaries and negations under 'specs'"),
    (("builtin: neutral-en", "builtin: nope"), "unknown built-in text set 'nope'; built in: neutral-en"),
    (("name: test-grid\n", ""), "missing 'name'"),
    (("seed: 7", "seed: -1"), "'seed' must be a whole number >= 0"),
    (("intensities: [1.0]", "intensities: 1.0"), "'emotions: intensities' must be a list of numbers, e.g. [0.5, 1.0], got 1.0"),
    (("intensities: [1.0]", "intensities: [1.0]\n  va_grid: {valence: 0.5, arousal: [0.2]}"),
     "'emotions: va_grid: valence' must be a list of numbers"),
    (("intensities: [1.0]", "intensities: [1.0]\n  va_grid: {valence: [0.5], arousal: [high]}"),
     "'emotions: va_grid: arousal' must be a list of numbers, e.g. [-0.5, 0.5], got ['high']"),
])
def test_recipe_errors_say_what_is_wrong(change, message):
    with pytest.raises(RecipeError) as err:
        parse_recipe(RECIPE.replace(*change))
    assert message in str(err.value)


def test_recipe_emotion_grid_and_text_sources(tmp_path):
    (tmp_path / "lines.txt").write_text("# a comment\nFirst line.\n\nSecond line.\nFirst line.\n")
    recipe = load_recipe(_recipe(tmp_path, """\
name: grid
texts: {file: lines.txt}
voices: [kumo, "kumo:0.5,alpha:0.5"]
emotions:
  primaries: all
  intensities: [0.5, 1.0]
  specs: ["joy:0.5,surprise:0.3", "-joy:0.5", delight, "joy:0.5"]
  va_grid: {valence: [-0.5, 0.5], arousal: [0.4]}
"""))
    assert recipe.texts == ("First line.", "Second line.")  # comments, blanks and repeats dropped
    texts = [s.text for s in recipe.emotions]
    assert len(texts) == 6 * 2 + 3 + 2  # joy:0.5 under specs repeats a grid point and counts once
    assert {"joy:0.50,surprise:0.30", "-joy:0.50", "delight:1.00"} <= set(texts)
    assert recipe.n_clips == 2 * 17
    with pytest.raises(RecipeError, match="not valid YAML"):
        parse_recipe("name: [unclosed")
    plain = parse_recipe(RECIPE.replace("{builtin: neutral-en}", '["Fine words.", "More words.", "Fine words."]'))
    assert plain.texts == ("Fine words.", "More words.") and plain.text_source == "listed in the recipe"
    with pytest.raises(RecipeError, match="must be a list of strings or have exactly one of"):
        parse_recipe(RECIPE.replace("{builtin: neutral-en}", "42"))
    with pytest.raises(RecipeError, match="texts: '###': "):
        parse_recipe(RECIPE.replace("{builtin: neutral-en}", '{list: ["Fine words.", "###"]}'))


def test_plan_is_stable_and_names_are_unique():
    recipe = parse_recipe(RECIPE.replace("per_condition: 2", "per_condition: 45"))
    items = plan_items(recipe)
    assert len({i.clip_id for i in items}) == len(items) == 90
    neutral = [i.text for i in items if i.emotion.text == "neutral"]
    assert len(set(neutral[:40])) == 40 and neutral[40:] == neutral[:5]  # every text once before any repeats
    assert [i.text for i in plan_items(recipe)] == [i.text for i in items]
    more = parse_recipe(RECIPE.replace("per_condition: 2", "per_condition: 45").replace("[kumo]", "[alpha, kumo]"))
    kumo = [(i.clip_id, i.text) for i in plan_items(more) if i.voice == "kumo"]
    assert kumo == [(i.clip_id, i.text) for i in items]  # adding a voice leaves the others' clips alone
    other_seed = parse_recipe(RECIPE.replace("seed: 7", "seed: 8"))
    assert [i.text for i in plan_items(other_seed)] != [i.text for i in plan_items(parse_recipe(RECIPE))]


# -- the dataset folder -------------------------------------------------------------------------------
def test_dataset_folder_matches_its_manifest(reference_run):
    out = reference_run
    with open(out / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == METADATA_COLUMNS and METADATA_COLUMNS[0] == "file_name"
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["file_name"] for r in manifest] == [r["file_name"] for r in rows]
    audio = sorted(str(p.relative_to(out)) for p in (out / "audio").iterdir())
    assert sorted(r["file_name"] for r in rows) == audio and len(audio) == 4
    for row in manifest:
        samples, rate = sf.read(out / row["file_name"])
        assert rate == 16000 and abs(len(samples) / rate - row["duration_s"]) < 1e-3
        assert row["target"] == ("neutral" if row["emotion"] == "neutral" else "joy")
        assert row["passed"] == (row["target_probability"] >= 0.5)
        assert abs(sum(row[f"w_{e}"] for e in ("joy",)) - (1.0 if row["target"] == "joy" else 0.0)) < 1e-9
        face = np.load(out / "face" / (Path(row["file_name"]).stem + ".npy"))
        assert face.shape[1] == 52 and abs(face.shape[0] / 30 - row["duration_s"]) < 0.1
    card = (out / "dataset_card.md").read_text()
    assert "- clips: 4" in card and "| joy | 2 |" in card and "name: test-grid" in card
    licences = card[card.index("## Licences"):card.index("## Recipe")]
    for source in ("Kokoro-82M", "emotion tokens", "Whisper base", "CC BY-NC-SA 4.0", "phoneme timings",
                   "non-commercial use only"):
        assert source in licences, source


def test_same_output_with_two_workers(reference_run, tmp_path):
    out = tmp_path / "two"
    result = run_batch(load_recipe(_recipe(tmp_path)), out, workers=2, progress=False)
    assert result.rendered_now == 4
    assert _files(out) == _files(reference_run)


def test_same_output_on_ray(reference_run, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is the extra emosynth[ray]")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run_batch(load_recipe(_recipe(tmp_path)), tmp_path / "ray", engine="ray", progress=False)
    finally:
        ray.shutdown()
    assert _files(tmp_path / "ray") == _files(reference_run)


def test_kill_9_then_resume_finishes_without_damage(reference_run, tmp_path):
    recipe = _recipe(tmp_path)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "emosynth", "batch", str(recipe), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = out / ".batch" / "rows"
    deadline = time.time() + 300
    while time.time() < deadline and not (rows.exists() and len(list(rows.iterdir())) >= 1):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(rows.iterdir()))
    assert 1 <= done_before < 4, "the kill should land in the middle of the batch"
    # Worst case of a torn write as well: a clip's audio without its row, and a temporary file.
    first_missing = sorted({f"kumo_joy1.00_00{k}" for k in range(2)} | {f"kumo_neutral_00{k}" for k in range(2)}
                           - {p.stem for p in rows.iterdir()})[0]
    (out / "audio" / f"{first_missing}.flac").write_bytes(b"half a file")
    (out / "audio" / ".kumo_joy1.00_001.flac.abc.part").write_bytes(b"junk")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"made {4 - done_before} clips now ({done_before} were done before)" in result.stdout
    assert not list(out.rglob("*.part"))
    assert _files(out) == _files(reference_run)


def test_gate_drop_and_folder_guard(tmp_path, monkeypatch):
    recipe = load_recipe(_recipe(tmp_path, RECIPE.replace("primaries: [joy]", "primaries: []")
                                 .replace("neutral: true", "neutral: true\n  specs: [anger]")
                                 .replace("per_condition: 2", "per_condition: 1")
                                 .replace("min_probability: 0.5, action: flag", "min_probability: 0.999, action: drop")
                                 .replace("face: true", "face: false")))
    out = tmp_path / "gated"
    result = run_batch(recipe, out, workers=1, progress=False)
    assert result.planned == 2 and result.kept + result.dropped == 2 and result.dropped >= 1
    kept = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(kept) == result.kept and len(list((out / "audio").glob("*.flac"))) == result.kept
    assert f"- dropped (no file): {result.dropped}" in (out / "dataset_card.md").read_text()
    with pytest.raises(RecipeError, match="different recipe"):
        run_batch(parse_recipe(RECIPE), out, workers=1, progress=False)
    before = _files(out)
    assert run_batch(recipe, out, workers=1, progress=False).rendered_now == 0  # the same recipe: nothing to redo
    # the same recipe after an upgrade changed the voices, tokens, profiles or models: not mixed in
    import emosynth.batch.plan as plan

    digest = plan.assets_digest()
    monkeypatch.setattr(plan, "assets_digest", lambda: digest[::-1])
    with pytest.raises(RecipeError, match="another emosynth"):
        run_batch(recipe, out, workers=1, progress=False)
    assert _files(out) == before
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(RecipeError, match="not empty"):
        run_batch(recipe, tmp_path / "busy", workers=1, progress=False)
    assert (tmp_path / "busy" / "mine.txt").read_text() == "keep me"


def test_cli_bad_recipe_is_one_line(tmp_path):
    bad = _recipe(tmp_path, RECIPE.replace("voices: [kumo]", "voices: [kumo]\nvoice: alpha"))
    result = subprocess.run([sys.executable, "-m", "emosynth", "batch", str(bad), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown key 'voice' in the top level (did you mean 'voices'?)" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_recipes_are_valid(path):
    if "recordings:" in path.read_text() and not (path.parent.parent.parent / "shared" / "data" / "ravdess").is_dir():
        pytest.skip("this recipe augments ../shared/data/ravdess, which is not beside this checkout")
    recipe = load_recipe(path)
    assert recipe.n_clips == len(plan_items(recipe)) >= 500


def test_unreachable_ray_cluster_is_a_clear_error_and_writes_nothing(tmp_path):
    pytest.importorskip("ray", reason="Ray is the extra emosynth[ray]")
    out = tmp_path / "o"
    result = subprocess.run([sys.executable, "-m", "emosynth", "batch", str(_recipe(tmp_path)), "--out", str(out),
                             "--engine", "ray", "--ray-address", "auto"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "RAY_ADDRESS": ""})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach the Ray cluster at auto" in result.stderr and "ray start --head" in result.stderr
    assert not out.exists()
