"""nlsh-http: fetch a URL as records or text, download a URL to a file."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

from nlsh.hookspecs import hookimpl
from nlsh.kernel.context import CommandError
from nlsh.lang.signature import Param
from nlsh.records import Record
from nlsh.registry import Example, command

TIMEOUT = 30.0


def _open(url: str, timeout: float):
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"not an http(s) URL: {url}")
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "nlsh-http"}),
                                      timeout=timeout)
    except urllib.error.HTTPError as e:
        raise CommandError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise CommandError(f"{url}: {getattr(e, 'reason', e)}") from None


@command("fetch", "GET a URL: JSON becomes records (a list of objects) or one record; text becomes lines.",
         params=[Param("timeout", "duration", ("--timeout",), "give up after (default 30s)", metavar="DURATION"),
                 Param("url", "str", required=True, metavar="URL")],
         output="any", effects=("network",), category="network",
         examples=[Example("get the json from http://localhost:8000/items", "fetch http://localhost:8000/items")])
def fetch(ctx, a) -> Iterator[object]:
    with _open(a.url, float(a.timeout or TIMEOUT)) as resp:
        body = resp.read()
        ctype = resp.headers.get("Content-Type", "")
    text = body.decode("utf-8", "replace")
    if "json" in ctype or text.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, list):
            for item in data:
                yield Record(item) if isinstance(item, dict) else item
            return
        if isinstance(data, dict):
            yield Record(data)
            return
    yield from text.splitlines()


@command("download", "Save a URL to a file (never over an existing one).",
         params=[Param("timeout", "duration", ("--timeout",), "give up after (default 30s)", metavar="DURATION"),
                 Param("url", "str", required=True, metavar="URL"),
                 Param("file", "path", required=True, metavar="FILE")],
         output="text", effects=("network", "write"), category="network",
         examples=[Example("download http://localhost:8000/a.txt to a.txt", "download http://localhost:8000/a.txt a.txt")])
def download(ctx, a) -> Iterator[str]:
    target = ctx.path(a.file)
    if os.path.exists(target):
        raise CommandError(f"{a.file} already exists")
    tmp = target + ".part"
    total = 0
    with _open(a.url, float(a.timeout or TIMEOUT)) as resp, open(tmp, "wb") as out:
        while chunk := resp.read(1 << 16):
            ctx.check()
            out.write(chunk)
            total += len(chunk)
    os.replace(tmp, target)
    yield f"saved {a.file} ({total} bytes)"


@hookimpl
def register_commands(register) -> None:
    register(fetch)
    register(download)
