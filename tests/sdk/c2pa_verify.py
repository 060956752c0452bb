"""Reads and validates a file's Content Credentials with the official C2PA SDK (c2pa-python), as
anyone checking an image would. Prints the manifest store with its validation state as JSON, or
{"error": ...} when the file carries none. Usage: c2pa_verify.py FILE MEDIA_TYPE [TRUSTED_ROOT_PEM]
"""

import json
import sys

import c2pa

path, media_type = sys.argv[1], sys.argv[2]
settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        settings["trust"] = {"trust_anchors": f.read()}
context = c2pa.Context.from_dict(settings)
with open(path, "rb") as f:
    try:
        reader = c2pa.Reader(media_type, f, context=context)
    except c2pa.C2paError as e:
        print(json.dumps({"error": str(e)}))
        sys.exit(0)
    store = json.loads(reader.json())
    store["validation_state"] = reader.get_validation_state()
    print(json.dumps(store))
