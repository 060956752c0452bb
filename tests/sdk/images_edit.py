"""The official `openai` Python SDK, unchanged, for edits and variations against the gateway.

Run by tests/openai_sdk.rs with OPENAI_BASE_URL, OPENAI_API_KEY and FIXTURES (a folder with
base.png, mask.png and second.png written by the test). Every returned image is written back to
FIXTURES as `<call>-<i>.png` for the Rust side to decode in full. Prints one JSON line with the
sizes seen in the PNG headers.
"""

import base64
import json
import os
import struct
import sys

import openai
from openai import OpenAI
from png_pixels import pixels


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def main() -> None:
    # Strict: every answer must validate against the SDK's own types (quality, size, …).
    client = OpenAI(max_retries=0, _strict_response_validation=True)
    fixtures = os.environ["FIXTURES"]
    path = lambda name: os.path.join(fixtures, name)  # noqa: E731
    seen = {}

    def keep(call: str, r) -> list:
        sizes = []
        for i, d in enumerate(r.data):
            data = base64.b64decode(d.b64_json)
            with open(path(f"{call}-{i}.png"), "wb") as f:
                f.write(data)
            sizes.append(png_size(data))
        return sizes

    with open(path("base.png"), "rb") as image, open(path("mask.png"), "rb") as mask:
        r = client.images.edit(image=image, mask=mask, prompt="remove the square", response_format="b64_json")
    assert len(r.data) == 1
    seen["edit"] = keep("edit", r)[0]
    r_edit_b64 = r.data[0].b64_json

    with open(path("base.png"), "rb") as a, open(path("second.png"), "rb") as b:
        r = client.images.edit(image=[a, b], prompt="a collage of both", size="512x512", n=2, response_format="b64_json")
    assert len(r.data) == 2
    seen["edit_two_images"] = keep("edit_two_images", r)

    with open(path("second.png"), "rb") as image:
        r = client.images.create_variation(image=image, n=2, response_format="b64_json")
    assert len(r.data) == 2
    sizes = keep("variation", r)
    assert r.data[0].b64_json != r.data[1].b64_json, "variations differ"
    seen["variation"] = sizes

    # Streamed: partial images as the fill spreads, then the edit, as the SDK's typed events.
    with open(path("base.png"), "rb") as image, open(path("mask.png"), "rb") as mask:
        events = list(client.images.edit(image=image, mask=mask, prompt="remove the square", stream=True, partial_images=2))
    kinds = [e.type for e in events]
    assert kinds == ["image_edit.partial_image"] * 2 + ["image_edit.completed"], kinds
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    final = base64.b64decode(events[-1].b64_json)
    assert pixels(final) == pixels(base64.b64decode(r_edit_b64)), "the streamed edit is the same edit"
    assert events[0].b64_json != events[-1].b64_json, "a partial image is not the final one"

    # And through the streaming API, whose requests arrive base64-encoded, multipart and all.
    streaming = OpenAI(base_url=os.environ["OPENAI_STREAM_BASE_URL"], max_retries=0, _strict_response_validation=True)
    with open(path("base.png"), "rb") as image, open(path("mask.png"), "rb") as mask:
        events = list(streaming.images.edit(image=image, mask=mask, prompt="remove the square", stream=True, partial_images=2))
    assert [e.type for e in events] == ["image_edit.partial_image"] * 2 + ["image_edit.completed"], events
    assert pixels(base64.b64decode(events[-1].b64_json)) == pixels(final), "the streamed edit is the same edit"

    # Raw bytes (no file name) work too, and a bad mask is the SDK's typed 400.
    with open(path("base.png"), "rb") as image:
        data = image.read()
    try:
        client.images.edit(image=data, mask=data[: len(data) // 2], prompt="x")
        raise AssertionError("a truncated mask was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == "mask", e.body

    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
