"""The official MCP Python SDK (`mcp`) as a client of /mcp, for tests/e2e/mcp.rs.

`session`: connects with MCP_TOKEN as a bearer and runs the STEPS (JSON) one after another,
printing what each returned as JSON. `oauth-browser`: the same after signing in through the
consent page in headless Chromium. `oauth`: signs in through the server's OAuth flow (the
browser's part played by HTTP calls the consent page makes), then runs the STEPS with the token.
"""

import asyncio
import base64
import hashlib
import json
import os
import re
import sys
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

URL = os.environ["MCP_URL"]


def block(c):
    out = {"type": c.type}
    if c.type == "text":
        out["text"] = c.text
    elif c.type == "image":
        out["mime"] = c.mime_type
        out["data"] = c.data
    elif c.type == "resource_link":
        out["uri"] = str(c.uri)
        out["mime"] = c.mime_type
    return out


async def run(client, steps):
    results, last_link, last_job = [], None, None
    for step in steps:
        op = step["op"]
        if op == "list_tools":
            tools = (await client.list_tools()).tools
            r = {
                "names": [t.name for t in tools],
                "schemas": {t.name: t.input_schema for t in tools},
                "read_only": {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in tools},
            }
        elif op == "call":
            args = json.loads(json.dumps(step.get("args", {})).replace("$last_link", last_link or "").replace("$job", last_job or ""))
            res = await client.call_tool(step["name"], args)
            content = [block(c) for c in res.content]
            for c in content:
                if c["type"] == "resource_link":
                    last_link = c["uri"]
                if c["type"] == "text" and (m := re.search(r"Job (\S+) is", c["text"])):
                    last_job = m.group(1)
            r = {"is_error": bool(res.is_error), "content": content}
        elif op == "follow":
            # get_job until the job has ended, as an agent would.
            for _ in range(240):
                res = await client.call_tool("get_job", {"id": last_job})
                content = [block(c) for c in res.content]
                text = content[0].get("text", "") if content else ""
                if res.is_error or re.search(r" is (succeeded|failed|canceled)", text):
                    break
                await asyncio.sleep(0.5)
            for c in content:
                if c["type"] == "resource_link":
                    last_link = c["uri"]
            r = {"is_error": bool(res.is_error), "content": content}
        elif op == "read":
            uri = step["uri"].replace("$last_link", last_link or "")
            try:
                rd = await client.read_resource(uri)
                r = {"contents": []}
                for c in rd.contents:
                    if hasattr(c, "blob") and c.blob is not None:
                        data = base64.b64decode(c.blob)
                        r["contents"].append({"mime": c.mime_type, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
                    else:
                        r["contents"].append({"mime": c.mime_type, "text": c.text})
            except Exception as e:  # a protocol error: what the client shows
                r = {"error": str(e)}
        elif op == "list_resources":
            res = await client.list_resources()
            r = {"uris": [str(x.uri) for x in res.resources], "next_cursor": res.next_cursor}
        elif op == "prompt":
            res = await client.get_prompt(step["name"], step.get("args", {}))
            r = {"text": res.messages[0].content.text}
        else:
            raise SystemExit(f"unknown step {op}")
        results.append(r)
    return results


async def session():
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {os.environ['MCP_TOKEN']}"}, timeout=httpx2.Timeout(60, read=300))
    async with http, Client(streamable_http_client(URL, http_client=http), cache=None) as client:
        results = await run(client, json.loads(os.environ.get("STEPS", "[]")))
        print(json.dumps({"protocol": client.session.protocol_version, "results": results}))


class Memory:
    def __init__(self):
        self.tokens, self.client = None, None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


def consent_in_chromium(authorize_url, box):
    """The person's part in a real browser: the consent page sends them to sign in, brings them
    back, and they untick all but GRANT's scopes and allow."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "browser"))
    from chromium import browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser()
    try:
        d.get(authorize_url)
        wait = WebDriverWait(d, 20)
        wait.until(ec.presence_of_element_located((By.NAME, "login"))).send_keys(os.environ["USERNAME"])
        d.find_element(By.NAME, "password").send_keys(os.environ["PASSWORD"])
        d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=signin-h] button[type=submit]").click()
        allow = wait.until(ec.element_to_be_clickable((By.ID, "allow")))
        box["consent_text"] = d.find_element(By.ID, "consent-h").text + "\n" + d.find_element(By.CSS_SELECTOR, "ul.consent").text
        granted = os.environ["GRANT"].split()
        for b in d.find_elements(By.CSS_SELECTOR, "input[name=scope]"):
            if (b.get_attribute("value") in granted) != b.is_selected():
                b.click()
        if os.environ.get("SCREENSHOTS"):
            os.makedirs(os.environ["SCREENSHOTS"], exist_ok=True)
            d.save_screenshot(os.path.join(os.environ["SCREENSHOTS"], "consent.png"))
        allow.click()
        # The client's redirect URI: nothing listens there; its address is what the client reads.
        wait.until(lambda d: d.current_url.startswith("http://127.0.0.1:53682/"))
        return d.current_url
    finally:
        d.quit()


async def oauth(in_browser=False):
    api, box, store = os.environ["API_URL"], {}, Memory()

    async def redirect_handler(authorize_url: str):
        # What /app/authorize does for a signed-in person who clicks Allow.
        u = urlparse(authorize_url)
        box["authorize_path"], box["authorize_url"] = u.path, authorize_url
        if in_browser:
            back = await asyncio.to_thread(consent_in_chromium, authorize_url, box)
            q = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()}
            box["result"] = AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))
            return
        params = {k: v[0] for k, v in parse_qs(u.query).items()}
        async with httpx2.AsyncClient() as b:
            r = await b.post(f"{api}/v1/auth/login", json={"username": os.environ["USERNAME"], "password": os.environ["PASSWORD"]})
            r.raise_for_status()
            access = r.json()["access_token"]
            grant = {"grant": os.environ["GRANT"]} if os.environ.get("GRANT") else {}
            r = await b.post(f"{api}/v1/oauth/authorize", json={**params, **grant, "decision": "allow"}, headers={"Authorization": f"Bearer {access}"})
            r.raise_for_status()
            box["consent"] = r.json()
        q = {k: v[0] for k, v in parse_qs(urlparse(box["consent"]["redirect_to"]).query).items()}
        box["result"] = AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))

    async def callback_handler():
        return box["result"]

    provider = OAuthClientProvider(
        URL,
        OAuthClientMetadata(client_name="Test agent", redirect_uris=[AnyUrl("http://127.0.0.1:53682/callback")], token_endpoint_auth_method="none"),
        store,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(60, read=300))
    async with http, Client(streamable_http_client(URL, http_client=http), cache=None) as client:
        results = await run(client, json.loads(os.environ.get("STEPS", "[]")))
        print(json.dumps({
            "protocol": client.session.protocol_version,
            "results": results,
            "token": store.tokens.access_token,
            "scope": store.tokens.scope,
            "client_id": store.client.client_id,
            "consent": {k: v for k, v in box.get("consent", {}).items() if k != "redirect_to"},
            "consent_text": box.get("consent_text"),
            "asked": parse_qs(urlparse(box["authorize_url"]).query).get("scope", [""])[0],
            "authorize_path": box["authorize_path"],
        }))


modes = {"session": session, "oauth": oauth, "oauth-browser": lambda: oauth(in_browser=True)}
asyncio.run(modes[sys.argv[1]]())
