"""Request bodies the server accepts (pydantic models: what the OpenAPI document shows) and the
turning of pydantic's validation errors into one message that names the field.

Limits that are settings (text length, speed range) are checked by the handlers with their own
messages, so the models hold only what is fixed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..face.track import FRAME_RATES

__all__ = ["SayRequest", "SpeechRequest", "StreamCancel", "StreamSpeak", "validation_message"]

FrameRate = Literal[24, 25, 30, 50, 60]
assert FRAME_RATES == (24, 25, 30, 50, 60)  # the Literal above spells them out for the OpenAPI schema


class _Strict(BaseModel):
    # JSON as sent: no unknown fields, and no coercion ("speed": true or "1.5" is refused; 1 is a number).
    model_config = ConfigDict(extra="forbid", strict=True)


class SpeechRequest(_Strict):
    """OpenAI's ``POST /v1/audio/speech`` body, plus ``emotion``."""

    model: str = Field(min_length=1, description="Any name (tts-1, kokoro, ...): emosynth has one speech model, "
                                                 "Kokoro-82M; the name is echoed in X-Emosynth-Model.")
    input: str = Field(description="The text to speak: English, 1 to 4096 characters.")
    voice: str | None = Field(None, description="An emosynth voice (GET /v1/voices) or a blend kumo:0.6,alpha:0.4; "
                                                "default: the server's --voice.")
    response_format: Literal["wav", "flac", "pcm"] = Field(
        "wav", description="wav or flac (16-bit, 24 kHz, mono), or pcm: raw 16-bit little-endian samples at "
                           "24 kHz, as OpenAI's pcm.")
    speed: float = Field(1.0, description="Speaking rate, 0.5 to 2.0 (1 = the voice's own pace).")
    emotion: str = Field("neutral", description="An emotion spec: joy:0.7, joy:0.5,surprise:0.3, -joy:0.5, delight, "
                                                "va:0.6,0.4 (GET /v1/emotions).")
    stream_format: Literal["audio"] = Field("audio", description="Only whole audio; for streaming use WS /v1/stream.")


class SayRequest(_Strict):
    """``POST /v1/say``: speech with everything emosynth knows about it."""

    text: str = Field(description="The text to speak: English, 1 to 4096 characters.")
    voice: str | None = Field(None, description="A voice or blend; default: the server's --voice.")
    emotion: str = Field("neutral", description="An emotion spec (GET /v1/emotions).")
    speed: float = Field(1.0, description="Speaking rate, 0.5 to 2.0.")
    format: Literal["wav", "flac"] = Field("wav", description="Container of the audio.")
    audio: Literal["base64", "url", "none"] = Field(
        "base64", description="base64: the file inline; url: a URL to GET it once (within 5 minutes); none: no audio.")
    face: bool = Field(False, description="Also animate the face: the blendshape track in emosynth's JSON form.")
    fps: FrameRate = Field(30, description="Frame rate of the face track.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the face's blinks, gaze and head motion.")
    score: bool = Field(True, description="Run the recognizer on the result.")


class StreamSpeak(_Strict):
    """A WebSocket request on ``/v1/stream``: speak ``text``, answering sentence by sentence."""

    type: Literal["speak"] = "speak"
    id: str = Field("1", min_length=1, max_length=64, description="The client's name for this request; "
                                                                  "every answer carries it.")
    text: str
    voice: str | None = None
    emotion: str = "neutral"
    speed: float = 1.0
    face: bool = True
    fps: FrameRate = 30
    seed: int = Field(0, ge=0, le=2**31 - 1)
    score: bool = True


class StreamCancel(_Strict):
    """Stop request ``id`` after the sentence being synthesised."""

    type: Literal["cancel"]
    id: str = Field(min_length=1, max_length=64)


def validation_message(errors: list[dict], fields: list[str] | None = None) -> tuple[str | None, str]:
    """(field, message) for the first of pydantic's errors, in words a client can act on."""
    if not errors:
        return None, "the request is not valid"
    e = errors[0]
    loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "form")]
    kind = e.get("type", "")
    if kind == "json_invalid":
        reason = (e.get("ctx") or {}).get("error", "")
        return None, f"body: not valid JSON ({reason}); send a JSON object" if reason else "body: not valid JSON"
    if not loc or kind in ("model_attributes_type", "dict_type"):
        return None, "body: a JSON object is expected" + (f" with fields {', '.join(fields)}" if fields else "")
    name = ".".join(loc)
    if kind == "missing":
        return name, f"{name}: required"
    if kind == "extra_forbidden":
        accepted = f"; accepted fields: {', '.join(fields)}" if fields else ""
        return name, f"{name}: unknown field{accepted}"
    got = e.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int, float, bool)) and len(repr(got)) <= 80 else ""
    return name, f"{name}: {e.get('msg', 'not valid')}{shown}"
