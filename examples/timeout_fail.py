"""EXPECTED TO FAIL: a step exceeding its @timeout.

Construct: ``start -> slow -> end`` where ``slow`` has ``@timeout(seconds=2)``
and sleeps 30 s, so Metaflow kills it after ~2 s and the run fails (``end``
never runs, so there is no ``result``).

Why it matters: used by the failure-path tests to check that engines report
a timed-out task as failed, stop the run, and surface the error.
"""
import time

from metaflow import FlowSpec, step, timeout


class TimeoutFailFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.slow)

    @timeout(seconds=2)
    @step
    def slow(self):
        self.trace = self.trace + ["slow"]
        time.sleep(30)  # deliberately longer than the timeout
        self.next(self.end)

    @step
    def end(self):
        self.result = {"trace": self.trace + ["end"]}  # never reached
        print("result:", self.result)


if __name__ == "__main__":
    TimeoutFailFlow()
