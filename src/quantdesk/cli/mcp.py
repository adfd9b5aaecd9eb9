"""`quantdesk mcp`: the AI tools over stdio, for Claude Desktop and other MCP clients."""

from __future__ import annotations

from quantdesk.cli.api import AUTH_HINT, ApiUrl, Token
from quantdesk.cli.common import fail, load_settings, run


def mcp(api_url: ApiUrl = None, token: Token = None) -> None:
    """Serve the MCP tools over stdin/stdout, calling the API at --api-url with your token.

    Every tool is a REST operation of that server, run with the token's rights (a --read-only
    token gets the read tools only). Over HTTP, the API serves the same tools at /mcp.
    """
    from quantdesk.agents.stdio import StdioRefused, run_stdio

    settings = load_settings()
    secret = token or (settings.api_token.get_secret_value() if settings.api_token else None)
    if not secret:
        fail("no API token", AUTH_HINT, code=2)
    try:
        run(run_stdio(api_url or settings.api_url, secret))
    except StdioRefused as exc:
        fail(str(exc), code=2)
