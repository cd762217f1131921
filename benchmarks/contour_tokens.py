"""A voice's shipped tokens with the emotion contour added, for reading with ``bench_voice.py --tokens``.

The alphas stay those the voice's fit chose (without a contour); the explicit controls are measured
again as the human profile less what the embedding *and the contour* do to the voice at full
scale (emosynth.voice.fitting.embedding_prosody, 72 renditions, about 5 minutes), and each token
gets its contour vector scaled by its alpha. What `emosynth fit-emotions --voice NAME` does, less
the search for alpha under the WER, speaker and quality constraints (which this leaves unchecked):

    python benchmarks/contour_tokens.py kumo /tmp/kumo_contour.json
    python benchmarks/bench_voice.py --voices kumo --sentences 20 --sweep-sentences 3 --only-emotion --judge-only \
        --tokens /tmp/kumo_contour.json --out benchmarks/results/voice_kumo_contour.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emosynth.voice.emotion_contour import EmotionContour
from emosynth.voice.fitting import FIT_SENTENCES, embedding_prosody, human_tokens, token_bank
from emosynth.voice.prosody import EmotionEmbeddings, EmotionTokenBank
from emosynth.voice.voices import assets_dir, voice_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("voice", choices=sorted(voice_catalog()))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    info = voice_catalog()[args.voice]
    alphas = EmotionTokenBank.load(assets_dir() / "tokens" / f"{args.voice}.json").info["alpha"]
    embeddings = EmotionEmbeddings.load(assets_dir() / "emotions.json")
    contour = EmotionContour.load(assets_dir() / "emotion_contour.npz")
    effect = embedding_prosody(info, embeddings, FIT_SENTENCES, contour=contour)
    human = human_tokens(info.gender)
    controls = {e: human[e] - effect[e] for e in effect}
    note = {"voice": args.voice, "alpha": alphas, "embedding_prosody": {e: c.to_dict() for e, c in effect.items()},
            "method": "the shipped tokens' alphas, controls measured again with the emotion contour on, contour "
                      "vectors scaled by alpha (benchmarks/contour_tokens.py); constraints not re-checked"}
    token_bank(embeddings, controls, alphas, note, contour).save(args.out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
