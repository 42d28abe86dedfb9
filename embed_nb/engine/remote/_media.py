"""Images and audio sent to a llama-server started with a projector (``--mmproj``).

What the server takes, from its ``GET /props``: ``modalities`` (``vision``, ``audio``) and
``media_marker``, a random string chosen at each start (``<__media_…__>``) that stands for the
image in the prompt. Each input is sent as the same text the kernel's projector reads
(:mod:`embed_nb.engine.projector`): prompt, marker, caption (a newline when there is none:
llama-server aborts on a prompt that ends with the image), suffix, so both give one vector.

Two routes, chosen once when the model is made:

- ``/v1/embeddings`` with OpenAI content parts (``{"content": [{"type": "image_url", ...},
  {"type": "text", ...}]}``), where the server puts its own marker in place of the image:
  base64 float32 answers (exact) with token usage, like the texts;
- ``/embedding`` with ``{"prompt_string": ..., "multimodal_data": [base64]}`` objects, for a
  server whose ``/v1/embeddings`` refuses content parts (JSON numbers, no token counts).

The bytes sent are the PNG (or WAV) embed_nb wrote from the decoded pixels (samples), never
the user's own file.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InvalidInputError, RemoteError
from ...media import Media
from ..projector import CAPTIONLESS_TEXT, check_clip
from . import _answers as answers
from ._client import Client
from ._http import server_message

__all__ = [
    "CONTENT_PARTS",
    "LEGACY",
    "MediaServer",
    "media_server",
    "probe_digest",
    "send_media",
]

#: The routes (see the module docstring).
CONTENT_PARTS = "/v1/embeddings"
LEGACY = "/embedding"
#: mtmd's own marker: the kernel refuses it in a caption, so the remote does too (one input,
#: one answer, whichever backend embeds it).
MTMD_DEFAULT_MARKER = "<__media__>"
_KINDS = {"vision": "image", "audio": "audio"}
_WHAT = {"image": "vision", "audio": "audio"}


@dataclass(frozen=True)
class MediaServer:
    """What a llama-server takes beside text: ``modalities`` (``"image"``, ``"audio"``; empty
    without a projector), its media ``marker`` and the ``route`` media go by."""

    modalities: tuple[str, ...]
    marker: str
    route: str = CONTENT_PARTS


def from_props(props: Any) -> MediaServer:
    """The server's media support as ``GET /props`` states it."""
    stated = props.get("modalities") if isinstance(props, dict) else None
    stated = stated if isinstance(stated, dict) else {}
    modalities = tuple(kind for name, kind in _KINDS.items() if stated.get(name) is True)
    marker = answers.str_field(props, "media_marker") or ""
    return MediaServer(modalities, marker if modalities else "")


def media_server(client: Client, props: Any) -> MediaServer:
    """The server's media support, and the route it takes media by (one request it refuses
    before any decode tells them apart: only a server that parses content parts names the
    unknown part type)."""
    found = from_props(props)
    if not found.modalities:
        return found
    if not found.marker:
        raise RemoteError(
            "the llama-server says it has a projector but no media_marker in /props; "
            "is it a llama-server?"
        )
    payload = {"input": [{"content": [{"type": "embed_nb-probe"}]}]}
    reply = client.transport.request("POST", CONTENT_PARTS, payload, limit=answers.PROBE_LIMIT)
    if reply.status in (401, 403):
        client.check(reply, f"POST {CONTENT_PARTS}")
    takes_parts = reply.status == 400 and "content[].type" in server_message(reply.body)
    return MediaServer(found.modalities, found.marker, CONTENT_PARTS if takes_parts else LEGACY)


def refuse_media(
    media: dict[int, Media], server: MediaServer, name: str, url: str, kind: str
) -> None:
    """Refuse what this server cannot embed, before anything is sent, as the kernel does."""
    index = min(media)
    item = media[index]
    if kind != "llama-server":
        raise InvalidInputError(
            f"input {index} is {item.kind}, but a {kind} server takes texts only here (OpenAI's "
            "embeddings API has no image input); use kind='llama-server' with a llama-server "
            "started with --mmproj"
        )
    if not server.modalities:
        raise InvalidInputError(
            f"input {index} is {item.kind}, but {name} at {url} has no projector: start "
            "llama-server with --mmproj mmproj-….gguf (beside -m) to embed images"
        )
    for i, each in media.items():
        if each.kind not in server.modalities:
            takes = " and ".join("images" if m == "image" else m for m in server.modalities)
            raise InvalidInputError(
                f"input {i} is {each.kind}, but {name} at {url} takes {takes} only; start "
                f"llama-server with a projector with {_WHAT[each.kind]} support"
            )
        for part, what in ((each.caption, "caption"), (each.prompt, "prompt")):
            for marker in (server.marker, MTMD_DEFAULT_MARKER):
                if marker in part:
                    raise InvalidInputError(
                        f"input {i}: its {what} holds the media marker {marker!r}; each input "
                        "has exactly one image or clip, so remove the marker"
                    )
        if server.marker in each.suffix or MTMD_DEFAULT_MARKER in each.suffix:
            raise InvalidInputError(f"input {i}: the model's suffix holds the media marker")
        if each.kind == "audio":
            check_clip(each, i)  # llama-server aborts on a clip of one sample


def _after(media: Media) -> str:
    return (media.caption or CAPTIONLESS_TEXT) + media.suffix


def _encoded(media: Media) -> str:
    data = media.png_bytes() if media.kind == "image" else media.wav_bytes()
    return base64.b64encode(data).decode("ascii")


def content_parts(media: Media) -> dict[str, Any]:
    """One ``/v1/embeddings`` input: the server puts its marker where the media part is."""
    data = _encoded(media)
    if media.kind == "image":
        part: dict[str, Any] = {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + data},
        }
    else:
        part = {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    parts = [{"type": "text", "text": media.prompt}] if media.prompt else []
    return {"content": [*parts, part, {"type": "text", "text": _after(media)}]}


def legacy_prompt(media: Media, marker: str) -> dict[str, Any]:
    """One ``/embedding`` input: the text with the marker, and the media's bytes."""
    return {
        "prompt_string": media.prompt + marker + _after(media),
        "multimodal_data": [_encoded(media)],
    }


def send_media(
    client: Client,
    server: MediaServer,
    model: str,
    media: list[Media],
    mode: int,
    dim: int,
) -> tuple[np.ndarray, int]:
    """Pooled vectors ``(n, d)`` of ``media``, normalised by the server with ``mode``, and the
    prompt tokens (0 on the ``/embedding`` route, which reports none)."""
    n = len(media)
    try:
        if server.route == CONTENT_PARTS:
            payload = {
                "input": [content_parts(m) for m in media],
                "model": model,
                "encoding_format": "base64",
                "embd_normalize": mode,
            }
            body = client.call("POST", CONTENT_PARTS, payload, limit=answers.pooled_limit(n, dim))
            # Tokens: each image is at most a context's worth, as for a text.
            vectors, tokens = answers.parse_pooled(body, n, dim, n * answers.MAX_CTX)
        else:
            payload = {
                "content": [legacy_prompt(m, server.marker) for m in media],
                "embd_normalize": mode,
            }
            limit = answers.token_vectors_limit(n, 1, dim)
            body = client.call("POST", LEGACY, payload, limit=limit)
            rows = answers.parse_token_vectors(body, n, dim, 1)  # pooled: one row each
            vectors, tokens = np.stack([r[0] for r in rows]), 0
        answers.check_normalized(vectors, mode)
    except answers.Malformed as error:
        raise client.malformed("embeddings", error) from None
    return vectors, tokens


def probe_image() -> Media:
    """A fixed 16×16 gradient, embedded once when the model is made (see :func:`probe_digest`)."""
    from ...media import decode_media

    ramp = np.arange(16, dtype=np.uint8) * 16
    pixels = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 255 - ramp[:, None]), -1)
    return decode_media(np.ascontiguousarray(pixels), 0)


def probe_clip() -> Media:
    """A fixed 0.25 s 440 Hz tone at 16 kHz: the probe for a server whose projector takes
    audio only (it refuses the probe image)."""
    from ...media import Audio, decode_media

    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16000)
    return decode_media(Audio(tone.astype(np.float32), sample_rate=16000), 0)


def probe_digest(client: Client, server: MediaServer, model: str, dim: int) -> str:
    """A digest of the probe image's (or, audio only, the probe clip's) vector: which projector
    the server runs, for cache keys (coarse, like the text probe's, so the same server always
    gives the same one)."""
    probe = probe_image() if "image" in server.modalities else probe_clip()
    vectors, _ = send_media(client, server, model, [probe], 2, dim)
    vector = vectors[0]
    steps = np.clip(np.floor(vector[:32] * np.sqrt(len(vector)) / 0.5), -127, 127)
    return hashlib.sha256(steps.astype(np.int8).tobytes()).hexdigest()[:16]
