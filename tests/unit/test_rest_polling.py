"""How `--wait` follows a run (rest.py ``_follow``): 0.1 s after a change, growing to the
poll interval while nothing changes, and 0.02 s while the run's last step runs, for at most
2 s. A clock of our own stands in for time (the intervals are what is tested, not the
machine's speed); the client is a real one, its requests never made."""
import pytest

from metaflow_extensions.orchestrators.plugins import rest
from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient


class Clock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rest.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(rest.time, "sleep", clock.sleep)
    return clock


def _follow(clock, states, closing_from=None):
    """Polls a run that goes through ``states`` (one per poll); its last step starts running
    at poll ``closing_from``."""
    polls = []

    def fetch():
        polls.append(clock.now)
        return {"state": states[min(len(polls), len(states)) - 1]}

    closing = None if closing_from is None else (lambda: len(polls) > closing_from)
    with KestraClient("http://127.0.0.1:9") as client:
        client._follow(fetch, lambda run: run["state"] == "END", lambda run: run["state"], None, 1.0, None,
                       lambda run: "timeout", closing)
    return polls


def test_quick_after_a_change_then_slower_while_nothing_changes(clock):
    _follow(clock, ["A"] * 20 + ["END"])
    assert clock.sleeps[:10] == [0.1] * 10 and clock.sleeps[-1] == 1.0
    assert all(b >= a for a, b in zip(clock.sleeps[10:], clock.sleeps[11:]))


def test_fast_while_the_last_step_runs_for_at_most_two_seconds(clock):
    _follow(clock, ["A", "B"] + ["C"] * 200 + ["END"], closing_from=2)
    assert clock.sleeps[:2] == [0.1, 0.1]
    fast = [s for s in clock.sleeps if s == 0.02]
    assert 95 <= len(fast) <= 101 and clock.sleeps[2:2 + len(fast)] == fast
    assert all(s > 0.02 for s in clock.sleeps[2 + len(fast):])
