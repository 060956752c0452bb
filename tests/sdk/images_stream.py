"""Streams one generation with the official `openai` Python SDK and reports each event the moment
it arrives: one JSON line per event (its type, partial_image_index and the client's monotonic
clock), flushed at once, so that the test can act between them.

Run by tests/e2e/streaming.rs with OPENAI_BASE_URL (the streaming API) and OPENAI_API_KEY.
"""

import base64
import json
import time

from openai import OpenAI


def main() -> None:
    client = OpenAI(max_retries=0, _strict_response_validation=True)
    asked = time.monotonic()
    stream = client.images.generate(
        model="gpt-image-1-mini", prompt="a lighthouse at dusk", stream=True, partial_images=2, size="1024x1024"
    )
    for event in stream:
        line = {"type": event.type, "at": time.monotonic() - asked, "bytes": len(base64.b64decode(event.b64_json))}
        if event.type.endswith(".partial_image"):
            line["partial_image_index"] = event.partial_image_index
        else:
            line["id"] = event.model_extra.get("id")
            line["usage"] = event.usage.model_dump()
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
