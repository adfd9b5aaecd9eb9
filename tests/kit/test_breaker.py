"""Circuit breaker: opens on consecutive failures, lets one probe through after the cooldown."""

from __future__ import annotations

from datetime import datetime

import pytest

from quantdesk.kit.breaker import CircuitBreaker


class FakeClock:
    """A clock the test moves by hand (test input, not a mock of the breaker)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_breaker(clock: FakeClock, *, threshold: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(
        "alphavantage", failure_threshold=threshold, cooldown_seconds=cooldown, clock=clock
    )


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "open"


def test_opens_after_the_threshold_of_consecutive_failures() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    assert breaker.snapshot()["state"] == "closed"
    assert breaker.snapshot()["opened_at"] is None

    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()

    assert breaker.state == "open"
    assert not breaker.allow()
    snapshot = breaker.snapshot()
    assert snapshot["failures"] == snapshot["consecutive_failures"] == 3
    assert snapshot["retry_after"] == 30.0
    assert datetime.fromisoformat(snapshot["opened_at"]).tzinfo is not None
    clock.now += 12
    assert breaker.snapshot()["retry_after"] == 18.0
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()  # never three in a row
    assert breaker.state == "closed"
    assert breaker.failures == 0
    assert breaker.allow()


def test_after_the_cooldown_exactly_one_probe_goes_through() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    open_breaker(breaker)

    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert [breaker.allow() for _ in range(10)] == [False] * 10  # everyone else waits
    assert breaker.state == "half_open"
    assert 0 < breaker.snapshot()["retry_after"] <= 1.0


def test_a_failed_probe_reopens_with_a_fresh_cooldown() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    open_breaker(breaker)
    first_opened_at = breaker.snapshot()["opened_at"]

    clock.now += 30
    assert breaker.allow()
    clock.now += 2  # the probe took a while, then failed
    breaker.record_failure()

    assert breaker.state == "open"
    assert breaker.snapshot()["retry_after"] == 30.0
    assert breaker.snapshot()["opened_at"] >= first_opened_at
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    assert breaker.snapshot()["times_opened"] == 2


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    open_breaker(breaker)

    clock.now += 30
    assert breaker.allow()
    breaker.record_success()

    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(10))
    snapshot = breaker.snapshot()
    assert snapshot["failures"] == 0
    assert snapshot["opened_at"] is None
    assert snapshot["retry_after"] == 0.0
    # Counting starts afresh: it takes the full threshold to open again.
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"


def test_late_results_from_before_opening_do_not_cut_the_cooldown_short() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    open_breaker(breaker)
    breaker.record_success()  # a call started while still closed
    assert breaker.state == "open"
    assert not breaker.allow()
    breaker.record_failure()
    assert breaker.snapshot()["retry_after"] == 30.0  # not restarted either


def test_a_probe_that_never_reports_back_is_replaced_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock, cooldown=10)
    open_breaker(breaker)
    clock.now += 10
    assert breaker.allow()  # the probe's caller is cancelled and never records an outcome
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    assert not breaker.allow()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0, cooldown_seconds=1)
    with pytest.raises(ValueError, match="cooldown"):
        CircuitBreaker("x", failure_threshold=1, cooldown_seconds=-1)
