"""EXPECTED TO FAIL: a step that raises.

Construct: ``start -> explode -> end`` where ``explode`` raises
``RuntimeError("boom from failing step")`` (no @retry, no @catch), so the run
fails and ``end`` never runs.

Why it matters: used by the failure-path tests to check that engines mark
the run failed, do not run downstream steps, and surface the error message.
"""
from metaflow import FlowSpec, step


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.explode)

    @step
    def explode(self):
        self.trace = self.trace + ["explode"]
        raise RuntimeError("boom from failing step")
        self.next(self.end)  # not reached

    @step
    def end(self):
        self.result = {"trace": self.trace + ["end"]}  # never reached
        print("result:", self.result)


if __name__ == "__main__":
    FailingFlow()
