"""Where a vault may point: local roots inside the admin's allowed folders and clear of other
users' vaults, S3 endpoints that cannot reach internal addresses. Pure checks, no I/O but
``realpath``."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

from quantdesk.kit.errors import InvalidInput


def inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def resolve_local_root(raw: str, *, allowed: list[Path], others: list[str]) -> Path:
    """The vault root ``raw`` names, absolute with links resolved, or a 422 on ``root``.

    It must lie strictly inside an allowed root (so never ``/``, nor an allowed root itself,
    which would hold other users' vaults) and neither equal, contain nor lie inside another
    user's vault root. ``..`` is refused outright, even where it would resolve inside.
    """

    def refuse(reason: str) -> InvalidInput:
        return InvalidInput("The root is not allowed", field="root", reason=reason)

    if not raw or not raw.strip():
        raise refuse("a local vault needs a root folder")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise refuse("the root contains a NUL or control character")
    candidate = Path(raw)
    if ".." in candidate.parts:
        raise refuse("'..' is not allowed in the root")
    if not candidate.is_absolute():
        candidate = allowed[0] / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real != root and inside(real, root) for root in allowed):
        raise refuse(
            "the root must be a folder inside one of the allowed roots "
            "(QUANTDESK_VAULT_ALLOWED_ROOTS)"
        )
    for other in others:
        theirs = Path(other)
        if inside(real, theirs) or inside(theirs, real):
            raise refuse("the root overlaps a folder that is not yours")
    return real


def _prefix_allows(url: str, prefix: str) -> bool:
    url, prefix = url.lower(), prefix.lower().strip()
    if not prefix or not url.startswith(prefix):
        return False
    return len(url) == len(prefix) or prefix.endswith("/") or url[len(prefix)] in "/?#"


_LOCAL_NAMES = ("localhost", "localhost.localdomain")


def check_endpoint(url: str, *, allowed: list[str]) -> str:
    """An S3 endpoint URL the server may call, or a 422 on ``endpoint_url``.

    https to a public host, or anything starting with an admin-allowed prefix
    (QUANTDESK_VAULT_ALLOWED_ENDPOINTS); plain http, loopback, private and link-local addresses
    (cloud metadata) are refused otherwise. Host names are not resolved here: an admin who needs
    an internal name allows it explicitly.
    """

    def refuse(reason: str) -> InvalidInput:
        return InvalidInput("The endpoint URL is not allowed", field="endpoint_url", reason=reason)

    url = url.strip()
    try:
        parsed = urlsplit(url)
        host = parsed.hostname
        _ = parsed.port
    except ValueError as exc:
        raise refuse(f"not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not host:
        raise refuse("use an http(s) URL with a host")
    if parsed.username or parsed.password:
        raise refuse("credentials go in `credentials`, not in the URL")
    if any(_prefix_allows(url, prefix) for prefix in allowed):
        return url
    if parsed.scheme != "https":
        raise refuse(
            "the endpoint must use https (or be allowed by QUANTDESK_VAULT_ALLOWED_ENDPOINTS)"
        )
    if host in _LOCAL_NAMES or host.endswith((".localhost", ".local", ".internal")):
        raise refuse("the endpoint must not be an internal host")
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if not address.is_global:
            raise refuse("the endpoint must not be a private, loopback or link-local address")
    return url
