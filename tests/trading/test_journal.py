"""The journal through its service functions: balanced postings only, fills and their average
cost, fees, dividends, reversals, reservations, and rows that cannot be changed."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from quantdesk.kit.db import Database
from quantdesk.models import (
    JournalEntry,
    JournalTransaction,
    PaperAccount,
    Position,
    TransactionKind,
    User,
)
from quantdesk.trading import entries, journal, repository, reservations, service
from quantdesk.trading.entries import Entry
from quantdesk.trading.errors import (
    AlreadyReversed,
    IdempotencyKeyReused,
    InsufficientFunds,
    InsufficientQuantity,
    NotReversible,
    UnbalancedTransaction,
)
from quantdesk.trading.schemas import AccountCreate
from tests.factories import Account
from tests.trading.helpers import API, assert_invariants, ledger, open_account

D = Decimal
FILL = TransactionKind.FILL


async def _account(db: Database, user: Account, cash: str = "10000") -> PaperAccount:
    async with db.transaction(user_id=user.user.id) as session:
        return await service.create_account(
            session, owner_id=user.user.id, data=AccountCreate(name="Desk", starting_cash=D(cash))
        )


async def _post(
    db: Database, user: Account, account: PaperAccount, kind: str, legs: list[Entry], **kw: Any
) -> journal.Posting:
    async with db.transaction(user_id=user.user.id) as session:
        fresh = await service.get_account(session, owner_id=user.user.id, account_id=account.id)
        return await journal.post_transaction(session, fresh, kind, legs, **kw)


async def _fill(
    db: Database, user: Account, account: PaperAccount, symbol: str, qty: str, price: str
) -> journal.Posting:
    legs = entries.fill_entries(symbol=symbol, qty=D(qty), price=D(price))
    return await _post(db, user, account, FILL, legs, price=D(price))


async def _position(db: Database, user: Account, account: PaperAccount, symbol: str) -> Any:
    found = await ledger(db, user, account.id)
    return next(p for p in found.positions if p.symbol == symbol)


@pytest.mark.parametrize(
    "legs",
    [
        [Entry("cash", "USD", D("10")), Entry("counterparty", "USD", D("-9.99"))],
        [Entry("cash", "USD", D("10"))],
        [],
        [Entry("cash", "USD", D("10")), Entry("counterparty", "EUR", D("-10"))],
        [Entry("cash", "USD", D("0.001")), Entry("counterparty", "USD", D("-0.001"))],
        [Entry("cash", "USD", D("0")), Entry("counterparty", "USD", D("0"))],
        [Entry("cash", "USD", D("NaN")), Entry("counterparty", "USD", D("NaN"))],
        [Entry("cash", "USD", D("1e25")), Entry("counterparty", "USD", D("-1e25"))],
        [Entry("position", "AAPL", D("1")), Entry("counterparty", "AAPL", D("-1"))],
        [Entry("bogus", "USD", D("1")), Entry("counterparty", "USD", D("-1"))],
        [Entry("cash", "USD", D("-5")), Entry("counterparty", "USD", D("5"))],  # a deposit out
    ],
)
async def test_an_unbalanced_or_misshapen_deposit_is_refused_and_nothing_is_written(
    legs: list[Entry], db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="100")
    with pytest.raises(UnbalancedTransaction):
        await _post(db, alice, account, TransactionKind.DEPOSIT, legs)
    stored = await assert_invariants(db, alice, account.id)
    assert len(stored.transactions) == 1
    assert stored.account.cash == D("100")


@pytest.mark.parametrize(
    "legs",
    [
        # No cash leg, two symbols, a buy that receives cash, a position in the cash book.
        [Entry("position", "AAPL", D("1")), Entry("counterparty", "AAPL", D("-1"))],
        [
            *entries.fill_entries(symbol="AAPL", qty=D("1"), price=D("10")),
            Entry("position", "MSFT", D("1")),
            Entry("counterparty", "MSFT", D("-1")),
        ],
        [
            Entry("cash", "USD", D("10")),
            Entry("counterparty", "USD", D("-10")),
            Entry("position", "AAPL", D("1")),
            Entry("counterparty", "AAPL", D("-1")),
        ],
        [Entry("cash", "AAPL", D("1")), Entry("counterparty", "AAPL", D("-1"))],
        [Entry("position", "USD", D("1")), Entry("cash", "USD", D("-1"))],
    ],
)
async def test_a_misshapen_fill_is_refused(legs: list[Entry], db: Database, alice: Account) -> None:
    account = await _account(db, alice)
    with pytest.raises(UnbalancedTransaction):
        await _post(db, alice, account, FILL, legs)
    stored = await assert_invariants(db, alice, account.id)
    assert (len(stored.transactions), stored.positions) == (1, [])


@pytest.mark.parametrize(
    "texts",
    [
        {"idempotency_key": "k" * 129},
        {"idempotency_key": ""},
        {"memo": "m" * 501},
        {"symbol": "S" * 33},
    ],
)
async def test_texts_longer_than_their_columns_are_refused_before_writing(
    texts: dict[str, str], db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="0")
    with pytest.raises(UnbalancedTransaction, match="characters"):
        await _post(db, alice, account, "deposit", entries.deposit_entries(D(1)), **texts)
    assert len((await assert_invariants(db, alice, account.id)).transactions) == 0


async def test_fills_move_cash_and_position_at_average_cost(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="10000")
    await _fill(db, alice, account, "AAPL", "10", "100")
    await _fill(db, alice, account, "AAPL", "10", "130")
    position = await _position(db, alice, account, "AAPL")
    assert (position.qty, position.cost_basis, position.realized_pnl) == (D(20), D(2300), D(0))
    sale = await _fill(db, alice, account, "AAPL", "-5", "150")
    assert sale.transaction.symbol == "AAPL"
    position = await _position(db, alice, account, "AAPL")
    # Average cost 115: five sold for 750 realize 750 - 575.
    assert (position.qty, position.cost_basis, position.realized_pnl) == (D(15), D(1725), D(175))
    assert position.last_fill_price == D("150")
    stored = await assert_invariants(db, alice, account.id)
    assert stored.account.cash == D("10000") - D("1000") - D("1300") + D("750")
    assert stored.book("counterparty", "AAPL") == D(-15)


async def test_overselling_is_refused_and_writes_nothing(db: Database, alice: Account) -> None:
    account = await _account(db, alice)
    await _fill(db, alice, account, "AAPL", "2", "10")
    with pytest.raises(InsufficientQuantity):
        await _fill(db, alice, account, "AAPL", "-3", "10")
    with pytest.raises(InsufficientQuantity):
        await _fill(db, alice, account, "MSFT", "-1", "10")
    stored = await assert_invariants(db, alice, account.id)
    assert len(stored.transactions) == 2
    assert [(p.symbol, p.qty) for p in stored.positions] == [("AAPL", D(2))]


async def test_a_buy_beyond_the_cash_is_refused(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="99.99")
    with pytest.raises(InsufficientFunds):
        await _fill(db, alice, account, "AAPL", "1", "100")
    stored = await assert_invariants(db, alice, account.id)
    assert (stored.account.cash, stored.positions) == (D("99.99"), [])


async def test_fees_and_dividends(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="100")
    await _post(db, alice, account, TransactionKind.FEE, entries.fee_entries(D("1.25")))
    await _post(
        db, alice, account, TransactionKind.DIVIDEND, entries.dividend_entries(D("3")), symbol="T"
    )
    stored = await assert_invariants(db, alice, account.id)
    assert stored.account.cash == D("101.75")
    assert stored.book("fees") == D("1.25")
    assert stored.book("dividends") == D("-3")
    assert stored.transactions[-1].symbol == "T"
    with pytest.raises(UnbalancedTransaction):  # a fee paid to the account is not a fee
        await _post(db, alice, account, TransactionKind.FEE, entries.fee_entries(D("-1")))


async def test_post_transaction_is_idempotent_per_key(db: Database, alice: Account) -> None:
    account = await _account(db, alice)
    first = await _fill(db, alice, account, "AAPL", "1", "10")
    legs = entries.fill_entries(symbol="AAPL", qty=D("1"), price=D("10"))
    one = await _post(db, alice, account, FILL, legs, idempotency_key="fill-1")
    two = await _post(db, alice, account, FILL, legs, idempotency_key="fill-1")
    assert (one.replayed, two.replayed) == (False, True)
    assert one.transaction.id == two.transaction.id != first.transaction.id
    other = entries.fill_entries(symbol="AAPL", qty=D("2"), price=D("10"))
    with pytest.raises(IdempotencyKeyReused):
        await _post(db, alice, account, FILL, other, idempotency_key="fill-1")
    assert (await _position(db, alice, account, "AAPL")).qty == D(2)
    await assert_invariants(db, alice, account.id)


async def test_a_key_taken_by_a_writer_that_skipped_the_lock_answers_its_row(
    db: Database, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique (account, key) index is the last word: the insert's IntegrityError is caught
    inside a savepoint and the stored movement returned (replayed), nothing moved twice."""
    account = await _account(db, alice, cash="0")
    legs = entries.deposit_entries(D("7"))
    await _post(db, alice, account, TransactionKind.DEPOSIT, legs, idempotency_key="raced")
    real = repository.get_transaction_by_key
    calls = 0

    async def blind_first(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else await real(*args, **kwargs)

    monkeypatch.setattr(repository, "get_transaction_by_key", blind_first)
    again = await _post(db, alice, account, TransactionKind.DEPOSIT, legs, idempotency_key="raced")
    assert again.replayed
    assert calls == 2
    stored = await assert_invariants(db, alice, account.id)
    assert (len(stored.transactions), stored.account.cash) == (1, D("7"))


async def _reverse(db: Database, user: Account, transaction_id: uuid.UUID) -> journal.Posting:
    async with db.transaction(user_id=user.user.id) as session:
        return await journal.reverse(
            session, owner_id=user.user.id, transaction_id=transaction_id, reason="keyed twice"
        )


async def test_a_reversal_mirrors_every_entry_and_both_stay_on_record(
    db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="0")
    deposit = await _post(
        db, alice, account, TransactionKind.DEPOSIT, entries.deposit_entries(D(40))
    )
    reversal = await _reverse(db, alice, deposit.transaction.id)
    assert reversal.transaction.kind == "correction"
    assert reversal.transaction.reverses_id == deposit.transaction.id
    assert reversal.transaction.memo == "keyed twice"
    assert sorted((e.book, e.amount) for e in reversal.entries) == [
        ("cash", D(-40)),
        ("counterparty", D(40)),
    ]
    stored = await assert_invariants(db, alice, account.id)
    assert stored.account.cash == D(0)
    assert len(stored.transactions) == 2
    with pytest.raises(AlreadyReversed):
        await _reverse(db, alice, deposit.transaction.id)
    with pytest.raises(NotReversible):
        await _reverse(db, alice, reversal.transaction.id)


async def test_reversing_money_already_spent_is_refused(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="0")
    deposit = await _post(
        db, alice, account, TransactionKind.DEPOSIT, entries.deposit_entries(D(40))
    )
    await _post(db, alice, account, TransactionKind.WITHDRAWAL, entries.withdrawal_entries(D(30)))
    with pytest.raises(InsufficientFunds):
        await _reverse(db, alice, deposit.transaction.id)
    stored = await assert_invariants(db, alice, account.id)
    assert (stored.account.cash, len(stored.transactions)) == (D(10), 2)


async def test_reversing_a_fill_replays_the_others_at_average_cost(
    db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="10000")
    await _fill(db, alice, account, "AAPL", "10", "100")
    wrong = await _fill(db, alice, account, "AAPL", "10", "130")
    await _fill(db, alice, account, "AAPL", "-5", "150")
    await _reverse(db, alice, wrong.transaction.id)
    position = await _position(db, alice, account, "AAPL")
    # As if only the buy at 100 and the sale at 150 had happened.
    assert (position.qty, position.cost_basis, position.realized_pnl) == (D(5), D(500), D(250))
    assert position.last_fill_price == D("150")
    stored = await assert_invariants(db, alice, account.id)
    assert stored.account.cash == D("10000") - D("1000") + D("750")


async def test_a_buy_whose_shares_were_sold_cannot_be_reversed(
    db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="10000")
    buy = await _fill(db, alice, account, "AAPL", "10", "100")
    await _fill(db, alice, account, "AAPL", "-10", "110")
    with pytest.raises(InsufficientQuantity):
        await _reverse(db, alice, buy.transaction.id)
    await assert_invariants(db, alice, account.id)


async def test_reservations_hold_cash_and_shares_for_open_orders(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="100")
    await _fill(db, alice, account, "AAPL", "4", "10")
    owner, aid = alice.user.id, account.id
    async with db.transaction(user_id=owner) as session:
        await reservations.reserve_cash(session, owner_id=owner, account_id=aid, amount=D("50"))
        await reservations.reserve_qty(
            session, owner_id=owner, account_id=aid, symbol="AAPL", qty=D("3")
        )
    detail = (await client.get(f"{API}/{aid}", headers=alice.headers)).json()["data"]
    assert (detail["cash"], detail["reserved"], detail["buying_power"]) == ("60", "50", "10")
    assert detail["positions"][0]["reserved_qty"] == "3"
    body = {"amount": "10.01", "idempotency_key": "w"}
    refused = await client.post(f"{API}/{aid}/withdrawals", json=body, headers=alice.headers)
    assert refused.status_code == 422
    with pytest.raises(InsufficientQuantity):  # only one share is not promised to an order
        await _fill(db, alice, account, "AAPL", "-2", "10")
    with pytest.raises(InsufficientFunds):
        async with db.transaction(user_id=owner) as session:
            await reservations.reserve_cash(session, owner_id=owner, account_id=aid, amount=D(11))
    async with db.transaction(user_id=owner) as session:
        await reservations.release_cash(session, owner_id=owner, account_id=aid, amount=D(50))
        await reservations.release_qty(
            session, owner_id=owner, account_id=aid, symbol="AAPL", qty=D(3)
        )
    await _fill(db, alice, account, "AAPL", "-2", "10")
    stored = await assert_invariants(db, alice, account.id)
    assert (stored.account.cash, stored.account.reserved) == (D(80), D(0))


async def test_account_summary_values_positions_at_the_prices_given(
    db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="1000")
    await _fill(db, alice, account, "AAPL", "2", "100")
    await _fill(db, alice, account, "MSFT", "1", "300")
    async with db.transaction(user_id=alice.user.id) as session:
        fresh = await service.get_account(session, owner_id=alice.user.id, account_id=account.id)
        summary = await service.account_summary(session, fresh, {"AAPL": D("110.5")})
    by_symbol = {p.symbol: p for p in summary.positions}
    assert (by_symbol["AAPL"].price, by_symbol["AAPL"].price_source) == (D("110.5"), "quote")
    assert (by_symbol["MSFT"].price, by_symbol["MSFT"].price_source) == (D(300), "last_fill")
    assert by_symbol["AAPL"].unrealized_pnl == D(21)
    assert summary.long_market_value == D(521)
    assert summary.equity == D(500) + D(521)


async def test_journal_rows_cannot_be_updated_or_deleted(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="100")
    statements = [
        update(JournalEntry).values(amount=D("1000000")),
        update(JournalTransaction).values(memo="rewritten"),
    ]
    if db.kind == "postgresql":  # SQLite erases a user's rows with DELETE; PostgreSQL refuses it
        statements += [delete(JournalEntry), delete(JournalTransaction)]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction(user_id=alice.user.id) as session:
                await session.execute(statement)
    stored = await assert_invariants(db, alice, account.id)
    assert [e.amount for e in stored.entries if e.book == "cash"] == [D(100)]
    assert stored.transactions[0].memo is None


async def test_deleting_a_user_still_erases_their_journal(db: Database, alice: Account) -> None:
    account = await _account(db, alice, cash="100")
    await _fill(db, alice, account, "AAPL", "1", "10")
    async with db.transaction(system=True) as session:
        await session.execute(delete(User).where(User.id == alice.user.id))
    async with db.transaction(system=True) as session:
        for table in ("paper_accounts", "positions", "journal_transactions", "journal_entries"):
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, table


async def test_postgresql_row_level_security_hides_other_owners_rows(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    if db.kind != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    for user in (alice, bob):
        account = await _account(db, user, cash="100")
        await _fill(db, user, account, "AAPL", "1", "10")
    models = (PaperAccount, JournalTransaction, JournalEntry, Position)
    for user in (alice, bob):
        async with db.transaction(user_id=user.user.id) as session:
            for model in models:
                # No owner filter here: only the policy stands between the users' rows.
                rows = await session.execute(text(f"SELECT owner_id FROM {model.__tablename__}"))
                assert {r for (r,) in rows} == {user.user.id}, model
    async with db.transaction() as session:
        for model in models:
            rows = (await session.execute(text(f"SELECT 1 FROM {model.__tablename__}"))).all()
            assert rows == [], model
    async with db.transaction(user_id=bob.user.id) as session:
        forged = PaperAccount(owner_id=alice.user.id, name="planted", cash=D(0), reserved=D(0))
        session.add(forged)
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.flush()
    await open_account(client, alice)  # and the API still works for its owner


async def test_get_account_values_positions_at_their_last_fill_never_at_cost(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="1000")
    await _fill(db, alice, account, "AAPL", "3", "100")
    await _fill(db, alice, account, "AAPL", "1", "120")
    await _fill(db, alice, account, "MSFT", "1", "50")
    await _fill(db, alice, account, "MSFT", "-1", "55")  # closed: not listed, P&L kept
    detail = (await client.get(f"{API}/{account.id}", headers=alice.headers)).json()["data"]
    [aapl] = detail["positions"]
    assert aapl == {
        "symbol": "AAPL",
        "qty": "4",
        "reserved_qty": "0",
        "cost_basis": "420",
        "avg_entry_price": "105",
        "realized_pnl": "0",
        "price": "120",
        "price_source": "last_fill",
        "price_as_of": None,  # never quoted: no quote's time, staleness or source
        "price_stale": None,
        "quote_source": None,
        "market_value": "480",
        "unrealized_pnl": "60",
    }
    assert (detail["cash"], detail["long_market_value"], detail["equity"]) == ("585", "480", "1065")


@pytest.mark.parametrize(
    ("values", "allowed"),
    [
        ({"qty": D(10), "reserved_qty": D(9)}, True),  # as text, "9" > "10": compared as numbers
        ({"qty": D(10), "reserved_qty": D(10)}, True),
        ({"qty": D(9), "reserved_qty": D(10)}, False),
        ({"qty": D("-0.0000000001")}, False),
        ({"reserved_qty": D(-1)}, False),
        ({"cost_basis": D(-1)}, False),
    ],
)
async def test_position_checks_are_the_last_line_of_defence(
    values: dict[str, Decimal], allowed: bool, db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="1000")
    await _fill(db, alice, account, "AAPL", "10", "1")
    statement = update(Position).where(Position.account_id == account.id).values(**values)
    if allowed:
        async with db.transaction(user_id=alice.user.id) as session:
            await session.execute(statement)
        return
    with pytest.raises(IntegrityError):
        async with db.transaction(user_id=alice.user.id) as session:
            await session.execute(statement)


@pytest.mark.parametrize("values", [{"cash": D("-0.01")}, {"reserved": D(-1)}])
async def test_account_checks_are_the_last_line_of_defence(
    values: dict[str, Decimal], db: Database, alice: Account
) -> None:
    account = await _account(db, alice, cash="1000")
    with pytest.raises(IntegrityError):
        async with db.transaction(user_id=alice.user.id) as session:
            await session.execute(
                update(PaperAccount).where(PaperAccount.id == account.id).values(**values)
            )
    assert (await ledger(db, alice, account.id)).account.cash == D(1000)
