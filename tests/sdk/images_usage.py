"""One generation with the official `openai` Python SDK in strict mode: prints the token usage as
the SDK types it and the charge headers, as one JSON line.

Run by tests/e2e/admin.rs with OPENAI_BASE_URL and OPENAI_API_KEY.
"""

import json

from openai import OpenAI


def main() -> None:
    client = OpenAI(max_retries=0, _strict_response_validation=True)
    raw = client.images.with_raw_response.generate(model="gpt-image-2", prompt="a lighthouse", size="1024x1024")
    result = raw.parse()
    print(json.dumps({
        "usage": result.usage.model_dump(exclude_none=True),
        "output_tokens": result.usage.output_tokens,
        "text_tokens": result.usage.input_tokens_details.text_tokens,
        "charged": raw.headers.get("x-credits-charged"),
        "remaining": raw.headers.get("x-credits-remaining"),
    }))


if __name__ == "__main__":
    main()
