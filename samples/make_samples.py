"""Regenerate the listenable samples, their face curves and their table: python samples/make_samples.py

``python samples/make_samples.py --photo`` only re-renders the photo videos from the saved curves and audio;
``--human`` only the human recording's videos; ``--sheet`` only the contact sheet
(docs/face_contact_sheet.png: one frame of each primary on the avatar and on each shipped portrait).
"""

from __future__ import annotations

import sys
from pathlib import Path

from emosynth.audio import load_audio
from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.face import BlendshapeTrack, PortraitRenderer, animate_utterance, example_portrait_path, load_portrait
from emosynth.face.render import render_video
from emosynth.synthesizer import Synthesizer

TEXT = "The train to the coast leaves at ten, and we will be there by noon."
HUMAN_WORDS = "Kids are talking by the door."
SPECS = ("neutral", "joy", "sadness", "anger", "fear", "disgust", "surprise",
         "delight", "joy:0.5,surprise:0.3", "-joy:0.5", "despair", "va:0.6,0.4")


def main() -> None:
    here = Path(__file__).resolve().parent
    synth = Synthesizer("kumo")
    rows = ["| clip | emotion asked | recognizer hears | confidence | P(target) | valence | arousal |",
            "|---|---|---|---|---|---|---|"]
    for spec in SPECS:
        u = synth.say(TEXT, emotion=spec)
        name = "kumo_" + spec.replace(":", "").replace(",", "_").replace("-", "neg_").replace(".", "") + ".flac"
        u.save(here / name)
        if spec in PRIMARY_EMOTIONS:  # the face's curves too, as Live Link Face CSV (30 fps)
            track = animate_utterance(u)
            track.save(here / "face" / name.replace(".flac", ".csv"))
            render_video(track, u.audio, u.sample_rate_hz, here / "face" / name.replace(".flac", ".mp4"))
            if spec == "joy":  # and one animated avatar head to open in three.js or Blender
                track.save(here / "face" / name.replace(".flac", ".glb"))
        s = u.scores
        target = u.emotion.dominant
        rows.append(f"| [{name}]({name}) | `{u.emotion.text}` | {s.label} | {s.confidence:.2f} | "
                    f"{s.probabilities[target]:.2f} ({target}) | {s.valence:+.2f} | {s.arousal:+.2f} |")
    print("\n".join(rows))
    photo_videos(here)
    human_videos(here)
    contact_sheet(here)


def human_videos(here: Path) -> None:
    """A RAVDESS actor's recording (the package's sample clip, CC BY-NC-SA 4.0) animating the avatar
    twice: the mouth from the audio alone, and from timings aligned to its words."""
    from importlib import resources

    from emosynth.face import animate

    clip = load_audio(resources.files("emosynth") / "data" / "samples" / "ravdess-12-anger.flac")
    for suffix, text in (("audio", None), ("words", HUMAN_WORDS)):
        track = animate(clip.samples, clip.sample_rate_hz, text=text, emotion="auto")
        track.save(here / "face" / f"ravdess-12-anger_{suffix}.csv")
        render_video(track, clip.samples, clip.sample_rate_hz, here / "face" / f"ravdess-12-anger_{suffix}.mp4")


def photo_videos(here: Path) -> None:
    """Each primary's saved curves (face/kumo_<emotion>.csv) and audio animating the astronaut
    portrait (faces/astronaut.jpg, public domain): face/kumo_<emotion>_photo.mp4, 512x512, 30 fps."""
    renderer = PortraitRenderer(load_portrait(example_portrait_path()))
    for emotion in PRIMARY_EMOTIONS:
        track = BlendshapeTrack.load(here / "face" / f"kumo_{emotion}.csv")
        clip = load_audio(here / f"kumo_{emotion}.flac")
        render_video(track, clip.samples, clip.sample_rate_hz, here / "face" / f"kumo_{emotion}_photo.mp4",
                     renderer=renderer)


#: The portraits on the contact sheet (emosynth.face_assets): smiling, neutral, brows raised (black and white).
SHEET_PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg", "einstein.jpg")


def contact_sheet(here: Path, cell: int = 192) -> Path:
    """docs/face_contact_sheet.png: a row for the avatar and one per portrait, a column per primary,
    each cell the middle one of the frames the fer judge reads in that primary's sample
    (face/kumo_<emotion>.csv): away from blinks and past the expression's onset."""
    from importlib import resources

    import numpy as np
    from PIL import Image, ImageDraw

    from emosynth.face.judge import steady_frames
    from emosynth.face.render import HeadRenderer
    from emosynth.io import atomic_path

    rows = [("avatar", HeadRenderer(512))]
    rows += [(name.split(".")[0], PortraitRenderer(load_portrait(Path(str(resources.files("emosynth.face_assets") / name)))))
             for name in SHEET_PORTRAITS]
    label = 18
    sheet = Image.new("RGB", (cell * len(PRIMARY_EMOTIONS), (cell + label) * len(rows)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, emotion in enumerate(PRIMARY_EMOTIONS):
        track = BlendshapeTrack.load(here / "face" / f"kumo_{emotion}.csv")
        steady = steady_frames(track)
        i = int(steady[len(steady) // 2])
        for r, (name, renderer) in enumerate(rows):
            image = Image.fromarray(np.asarray(renderer.frame(track.weights[i], track.head_rotation[i], track.gaze[i])))
            if r:  # a portrait's face spans under half its frame: show the face
                m = image.width * 0.18
                image = image.crop((m, m, image.width - m, image.height - m))
            y = r * (cell + label)
            sheet.paste(image.resize((cell, cell), Image.LANCZOS), (c * cell, y + label))
            draw.text((c * cell + 4, y + 3), f"{name}: {emotion}", fill=(0, 0, 0))
    out = here.parent / "docs" / "face_contact_sheet.png"
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--sheet"]:
        print(contact_sheet(Path(__file__).resolve().parent))
    elif sys.argv[1:] == ["--photo"]:
        photo_videos(Path(__file__).resolve().parent)
    elif sys.argv[1:] == ["--human"]:
        human_videos(Path(__file__).resolve().parent)
    else:
        main()
