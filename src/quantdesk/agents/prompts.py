"""Prompts for the desk's common flows: the tool calls to make, in order, with their arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import mcp_types as types
from mcp.shared.exceptions import MCPError

INVALID_PARAMS = -32602


def _universe_from_index(arguments: Mapping[str, str]) -> str:
    index = arguments["index"]
    name = arguments.get("universe_name") or index
    return f"""Build a quantdesk universe named "{name}" from the members of the index "{index}".

1. Call `list_indices` and find the index whose name matches "{index}" (case and spelling may
   differ slightly; if none matches, stop and tell me which indices exist).
2. Call `create_universe` with `name` = "{name}" and `from_index` = the exact index name.
   If the name is taken (409), call `list_universes` and ask me whether to reuse that universe.
3. Call `get_universe` with the new `universe_id` and `list_universe_assets` to read it back.
4. Tell me how many members it has and which symbols, if any, were not found or not valid.
Each answer's `next_actions` name the tools that make sense next."""


def _rebalance_equal_weight(arguments: Mapping[str, str]) -> str:
    account_id, universe_id = arguments["account_id"], arguments["universe_id"]
    return f"""Rebalance paper account {account_id} to equal weight over universe {universe_id}.

1. Call `get_account` (account_id = {account_id}): note `equity`, `cash` and `positions`
   (symbol, qty, market value, price).
2. Call `list_universe_assets` (universe_id = {universe_id}) for the target symbols (follow
   `next_cursor` until it is null). N = the number of symbols; target value = equity / N.
3. For each symbol without a price in the account, call `get_market_data` for its latest quote.
4. Plan first and show me the plan: for each held symbol not in the universe, sell it all
   (`close_position`); for each universe symbol, the difference between its target value and
   its current market value. Skip differences smaller than 1% of the target.
5. After I agree: place the sells first (`place_order` with side "sell" and `qty` = difference
   / price, rounded down), then the buys (`place_order` with side "buy" and `notional` = the
   difference), each with a `client_order_id` so a retry never doubles an order.
6. Call `list_orders` and `get_account` to confirm, and report the new weights."""


_RENDERERS: dict[str, tuple[str, Callable[[Mapping[str, str]], str]]] = {
    "build_universe_from_index": (
        "Build a universe from an index's members",
        _universe_from_index,
    ),
    "rebalance_to_equal_weight": (
        "Rebalance a paper account to equal weight over a universe",
        _rebalance_equal_weight,
    ),
}

PROMPTS = [
    types.Prompt(
        name="build_universe_from_index",
        description=_RENDERERS["build_universe_from_index"][0],
        arguments=[
            types.PromptArgument(name="index", description="e.g. S&P 500", required=True),
            types.PromptArgument(
                name="universe_name", description="Default: the index's name", required=False
            ),
        ],
    ),
    types.Prompt(
        name="rebalance_to_equal_weight",
        description=_RENDERERS["rebalance_to_equal_weight"][0],
        arguments=[
            types.PromptArgument(name="account_id", description="The paper account", required=True),
            types.PromptArgument(
                name="universe_id", description="The target universe", required=True
            ),
        ],
    ),
]


def render(name: str, arguments: Mapping[str, str]) -> types.GetPromptResult:
    if name not in _RENDERERS:
        raise MCPError(code=INVALID_PARAMS, message=f"No prompt named {name!r}")
    prompt = next(p for p in PROMPTS if p.name == name)
    missing = [a.name for a in prompt.arguments or [] if a.required and not arguments.get(a.name)]
    if missing:
        raise MCPError(code=INVALID_PARAMS, message=f"Missing arguments: {', '.join(missing)}")
    description, renderer = _RENDERERS[name]
    return types.GetPromptResult(
        description=description,
        messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=renderer(arguments)))
        ],
    )
