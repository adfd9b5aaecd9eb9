"""Errors of the trading domain."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from quantdesk.kit.errors import Conflict, InvalidInput, NotFound


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


class AccountNotFound(NotFound):
    code = "account_not_found"
    message = "Account not found"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("next_actions", ["list_accounts"])
        super().__init__(message, **kwargs)


class TransactionNotFound(NotFound):
    code = "transaction_not_found"
    message = "Transaction not found"


class InsufficientFunds(InvalidInput):
    """Spending more than the buying power (cash not reserved for open orders): a 422."""

    code = "insufficient_funds"

    def __init__(self, *, wanted: Decimal, available: Decimal, field: str = "amount") -> None:
        super().__init__(
            f"{_plain(wanted)} is more than the buying power of {_plain(available)}",
            field=field,
            reason="insufficient_funds",
            next_actions=["get_account", "deposit_to_account"],
        )


class InsufficientQuantity(InvalidInput):
    """Selling or reserving more of a symbol than the account holds unreserved: a 422."""

    code = "insufficient_quantity"

    def __init__(self, *, symbol: str, wanted: Decimal, available: Decimal) -> None:
        super().__init__(
            f"{_plain(wanted)} {symbol} is more than the {_plain(available)} available",
            field="qty",
            reason="insufficient_quantity",
            next_actions=["get_account"],
        )


class IdempotencyKeyReused(Conflict):
    """The key was already spent on a different movement: a 409 that names it."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, *, was: str, transaction_id: uuid.UUID) -> None:
        super().__init__(
            f"The idempotency key '{key}' was already used for another movement",
            details=[
                {
                    "field": "idempotency_key",
                    "reason": f"'{key}' was used for {was} (transaction {transaction_id}); "
                    "send a new key for a new movement",
                }
            ],
            next_actions=["list_account_activities"],
        )


class AlreadyReversed(Conflict):
    code = "transaction_already_reversed"
    message = "This transaction has already been reversed"


class NotReversible(Conflict):
    code = "transaction_not_reversible"
    message = "A reversal cannot itself be reversed: post the original movement again"


class UnbalancedTransaction(ValueError):
    """A caller built entries that do not balance, or do not fit their kind.

    A programming error of the caller (the orders engine, say), never a client's input: it is a
    ``ValueError`` and so a 500 with a logged traceback, and nothing is written.
    """
