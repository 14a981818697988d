"""A one-step flow: a single step that is both start and end.

Construct: ``only`` (``@step(start=True, end=True)``; Metaflow 2.19+). Its
graph node has type ``end`` and ``graph.start_step == graph.end_step``.

Why it matters: the smallest possible plan (one task, no edges); engines
must not assume there are at least two steps, and parameters go to the same
task that ends the run.
"""
from metaflow import FlowSpec, Parameter, step


class SingleStepFlow(FlowSpec):
    n = Parameter("n", default=4, type=int, help="Sum 1..n.")

    @step(start=True, end=True)
    def only(self):
        self.numbers = list(range(1, self.n + 1))
        # default: {"n": 4, "total": 10}
        self.result = {"n": self.n, "total": sum(self.numbers)}
        print("result:", self.result)


if __name__ == "__main__":
    SingleStepFlow()
