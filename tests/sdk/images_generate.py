"""Drives the local gateway with the official `openai` Python SDK, unchanged.

Run by tests/openai_sdk.rs with OPENAI_BASE_URL and OPENAI_API_KEY pointing at the stack, and
OUT, a folder: every image the SDK returns (decoded from b64_json, or fetched from its url) is
written there as `<b64|url>-<asset id>.png`, for the Rust side to decode in full and compare with
the objects stored in S3. Prints one JSON line with the SDK version.
"""

import base64
import json
import os
import struct
import sys
import urllib.request

import openai
from openai import OpenAI
from png_pixels import pixels


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (the default output format)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])



def main() -> None:
    # Strict: every answer must validate against the SDK's own types (quality, size, …).
    client = OpenAI(max_retries=0, _strict_response_validation=True)
    out = os.environ["OUT"]

    def save(kind: str, item, data: bytes) -> None:
        with open(os.path.join(out, f"{kind}-{item.model_extra['id']}.png"), "wb") as f:
            f.write(data)

    result = client.images.generate(prompt="a red fox in the snow", n=2, size="512x512", response_format="b64_json")
    assert len(result.data) == 2, result
    for item in result.data:
        assert item.url is None
        data = base64.b64decode(item.b64_json)
        assert image_size(data) == (512, 512)
        save("b64", item, data)
    assert result.size == "512x512", result.size

    result = client.images.generate(
        model="local-procedural", prompt="a lighthouse at dusk", n=2, size="256x256", response_format="url"
    )
    assert len(result.data) == 2
    for item in result.data:
        assert item.b64_json is None
        data = urllib.request.urlopen(item.url).read()
        assert image_size(data) == (256, 256)
        save("url", item, data)

    # Today's parameters: every quality of the local model, complexity, an arbitrary size, the
    # safety identifier; the answer reports what was made.
    for quality in ("low", "medium", "high", "auto"):
        result = client.images.generate(
            prompt="a kite over the dunes",
            quality=quality,
            complexity="high",
            size="640x360",
            safety_identifier="hashed-user-1",
            response_format="b64_json",
        )
        assert result.quality == ("medium" if quality == "auto" else quality), result.quality
        assert result.size == "640x360" and result.output_format == "png", result
        assert image_size(base64.b64decode(result.data[0].b64_json)) == (640, 360)

    # The local renderer's vector and animated output, as the SDK types them.
    result = client.images.generate(prompt="a lighthouse", output_format="svg", size="320x200", response_format="b64_json")
    assert result.output_format == "svg", result
    svg = base64.b64decode(result.data[0].b64_json)
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    assert (root.get("width"), root.get("height")) == ("320", "200"), root.attrib
    assert len(root) > 2, "a backdrop and shapes"
    result = client.images.generate(
        prompt="a kite", output_format="gif", frame_count=5, frame_duration_ms=100, size="128x128", response_format="url"
    )
    assert result.output_format == "gif", result
    gif = urllib.request.urlopen(result.data[0].url).read()
    assert gif[:6] == b"GIF89a", gif[:6]
    with open(os.path.join(out, f"gif-{result.data[0].model_extra['id']}.gif"), "wb") as f:
        f.write(gif)

    # Streamed: the scene as drawn so far, twice, then the image, as the SDK's typed events.
    events = list(client.images.generate(prompt="a lighthouse", stream=True, partial_images=2, size="256x256"))
    kinds = [e.type for e in events]
    assert kinds == ["image_generation.partial_image"] * 2 + ["image_generation.completed"], kinds
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert events[0].b64_json != events[-1].b64_json, "a partial image is not the final one"
    final = base64.b64decode(events[-1].b64_json)
    assert image_size(final) == (256, 256)
    save("stream", events[-1], final)

    # The same through the streaming API (its events as they are made), unchanged for the SDK.
    streaming = OpenAI(base_url=os.environ["OPENAI_STREAM_BASE_URL"], max_retries=0, _strict_response_validation=True)
    events = list(streaming.images.generate(prompt="a lighthouse", stream=True, partial_images=2, size="256x256"))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"], events
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert pixels(base64.b64decode(events[-1].b64_json)) == pixels(final), "the same prompt and seed draw the same image"
    save("streamed", events[-1], base64.b64decode(events[-1].b64_json))

    # Retired models are refused, naming what to use instead.
    try:
        client.images.generate(prompt="x", model="dall-e-3")
        raise AssertionError("a retired model was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == "model" and "retired" in e.body["message"], e.body

    # Errors arrive as the SDK's typed exceptions, with OpenAI's body.
    try:
        client.images.generate(prompt="x", n=11)
        raise AssertionError("n=11 was accepted")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and e.body["param"] == "n", e.body

    try:
        OpenAI(api_key="sk-wrong", max_retries=0).images.generate(prompt="x")
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401

    print(json.dumps({"sdk": openai.__version__}))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # make the failure readable from the Rust test
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise
