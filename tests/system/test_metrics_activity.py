"""The activity monitor on a fake clock: the sliding window, the thresholds, the hysteresis."""

from __future__ import annotations

import pytest

from quantdesk.kit.activity import BUCKETS, ActivityMonitor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def monitor(clock: FakeClock, *, active: int = 3, idle: int = 1) -> ActivityMonitor:
    return ActivityMonitor(
        window_seconds=60, active_threshold=active, idle_threshold=idle, clock=clock
    )


def test_events_are_counted_by_kind_over_the_window_then_slide_out(clock: FakeClock) -> None:
    watcher = monitor(clock)
    watcher.record("request")
    watcher.record("request")
    clock.now += 30
    watcher.record("watching")

    assert watcher.counts() == {"request": 2, "login": 0, "trading": 0, "watching": 1}
    clock.now += 31  # the two requests are now 61 s old
    assert watcher.counts() == {"request": 0, "login": 0, "trading": 0, "watching": 1}
    clock.now += 30
    assert sum(watcher.counts().values()) == 0


def test_active_at_the_threshold_and_idle_once_the_window_empties(clock: FakeClock) -> None:
    watcher = monitor(clock, active=3)
    watcher.record("request")
    watcher.record("login")
    assert watcher.state == "idle"

    watcher.record("trading")
    assert watcher.state == "active"
    assert watcher.is_active()

    clock.now += 61
    assert watcher.state == "idle"


def test_hysteresis_keeps_it_active_until_below_the_idle_threshold(clock: FakeClock) -> None:
    watcher = monitor(clock, active=4, idle=2)
    for _ in range(4):
        watcher.record("request")
        clock.now += 10  # events at t=0, 10, 20, 30
    assert watcher.state == "active"

    clock.now = 1000.0 + 75  # the first two slid out: 2 left, not below the idle threshold
    assert watcher.counts()["request"] == 2
    assert watcher.state == "active"
    clock.now = 1000.0 + 85  # 1 left
    assert watcher.state == "idle"
    watcher.record("request")  # 2 again: not enough to become active, only to stay so
    assert watcher.state == "idle"


def test_a_quiet_spell_nobody_looked_at_still_counts(clock: FakeClock) -> None:
    watcher = monitor(clock, active=2, idle=2)
    watcher.record("request")
    watcher.record("request")
    assert watcher.state == "active"
    clock.now += 120  # the window emptied while nobody asked
    watcher.record("request")
    assert watcher.state == "idle"


def test_memory_stays_bounded_however_many_events(clock: FakeClock) -> None:
    watcher = monitor(clock)
    for step in range(10_000):
        clock.now += 0.05
        watcher.record("request", 3 if step % 2 else 1)

    # 60 s of events at 20 a second, 2 per event on average, to within one bucket (1 s) of it.
    assert 2 * 20 * (60 - 60 / BUCKETS) <= watcher.counts()["request"] <= 2 * 20 * 60 + 4
    assert len(watcher._buckets) <= BUCKETS


def test_snapshot_names_state_events_window_and_thresholds(clock: FakeClock) -> None:
    watcher = monitor(clock, active=5, idle=2)
    watcher.record("login")

    assert watcher.snapshot() == {
        "state": "idle",
        "events": {"request": 0, "login": 1, "trading": 0, "watching": 0},
        "window_seconds": 60.0,
        "active_threshold": 5,
        "idle_threshold": 2,
    }


def test_reconfiguring_keeps_events_unless_the_window_changes(clock: FakeClock) -> None:
    watcher = monitor(clock)
    watcher.record("request")
    watcher.configure(window_seconds=60, active_threshold=1, idle_threshold=1)
    assert watcher.counts()["request"] == 1
    assert watcher.state == "active"
    watcher.configure(window_seconds=120, active_threshold=1, idle_threshold=1)
    assert watcher.counts()["request"] == 0


@pytest.mark.parametrize(
    ("window", "active", "idle"), [(0, 3, 1), (60, 2, 3), (60, 3, 0), (-1, 1, 1)]
)
def test_nonsense_settings_are_refused(
    clock: FakeClock, window: float, active: int, idle: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        ActivityMonitor(
            window_seconds=window, active_threshold=active, idle_threshold=idle, clock=clock
        )
