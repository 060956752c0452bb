"""The official `openai` Python SDK's `videos` resource, unchanged, against the gateway.

Run by tests/e2e/videos.rs with OPENAI_BASE_URL, OPENAI_API_KEY and FIXTURES (a folder holding
picture.png). Writes what it downloads to FIXTURES (video.mp4, thumbnail.jpg, spritesheet.jpg)
for the Rust side to probe, and prints one JSON line: the ids and what the SDK saw.
"""

import json
import os
import warnings

import openai
from openai import OpenAI

# The SDK marks the Sora API deprecated; this gateway serves its shape with other models.
warnings.simplefilter("ignore", DeprecationWarning)


def main() -> None:
    # Strict: every answer must validate against the SDK's own types.
    client = OpenAI(max_retries=0, _strict_response_validation=True)
    fixtures = os.environ["FIXTURES"]
    path = lambda name: os.path.join(fixtures, name)  # noqa: E731
    report = {"sdk": openai.__version__}

    # Image-to-video: the picture as a file, polled by the SDK's own helper.
    with open(path("picture.png"), "rb") as picture:
        video = client.videos.create_and_poll(
            prompt="slow push in on the harbour",
            model="local-motion",
            input_reference=picture,
            seconds="4",
            size="1280x720",
            poll_interval_ms=200,
        )
    assert video.status == "completed", video
    assert video.progress == 100, video
    assert (video.seconds, video.size, video.model) == ("4", "1280x720", "local-motion"), video
    assert video.completed_at is not None and video.error is None, video
    report["video"] = video.id

    for variant, name in [("video", "video.mp4"), ("thumbnail", "thumbnail.jpg"), ("spritesheet", "spritesheet.jpg")]:
        content = client.videos.download_content(video.id, variant=variant)
        content.write_to_file(path(name))

    # Text-to-video (the prompt's scene), portrait by default, and the list both appear in.
    second = client.videos.create(prompt="a lighthouse at dusk")
    assert second.status in ("queued", "in_progress"), second
    second = client.videos.poll(second.id, poll_interval_ms=200)
    assert second.status == "completed" and second.size == "720x1280", second
    report["second"] = second.id
    listed = [v.id for v in client.videos.list(order="asc", limit=1)]
    assert listed == [video.id, second.id], listed
    assert client.videos.retrieve(video.id).id == video.id

    # Sora is shut down: a 400 that names what to use instead.
    try:
        client.videos.create(prompt="x", model="sora-2")
        raise AssertionError("sora-2 was accepted")
    except openai.BadRequestError as e:
        assert e.body["param"] == "model", e.body
        assert "local-motion" in e.body["message"], e.body
        report["retired"] = e.body["message"]

    deleted = client.videos.delete(second.id)
    assert deleted.deleted and deleted.id == second.id and deleted.object == "video.deleted", deleted
    try:
        client.videos.retrieve(second.id)
        raise AssertionError("a deleted video was found")
    except openai.NotFoundError:
        pass
    print(json.dumps(report))


if __name__ == "__main__":
    main()
