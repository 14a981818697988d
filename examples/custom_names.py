"""Custom-named start and end steps (``@step(start=True)`` / ``@step(end=True)``).

Construct: ``begin -> middle -> finish`` where ``begin`` is the start step and
``finish`` the end step (Metaflow 2.19+).

Why it matters: engines must use ``graph.start_step`` / ``graph.end_step``
instead of assuming steps literally named ``start`` and ``end`` (e.g. when
deciding where parameters are passed and which task ends the run).
"""
from metaflow import FlowSpec, step


class CustomNamesFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.trace = ["begin"]
        self.value = 7
        self.next(self.middle)

    @step
    def middle(self):
        self.trace = self.trace + ["middle"]
        self.value = self.value * 6
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.trace = self.trace + ["finish"]
        # {"value": 42, "trace": ["begin", "middle", "finish"]}
        self.result = {"value": self.value, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    CustomNamesFlow()
