"""Static split/join with branches of different lengths.

Construct: ``start -> (a1 -> a2 | b1 -> b2 -> b3) -> join -> end``.

Why it matters: the join must wait for two branches that finish at different
depths, and its ``--input-paths`` must name the *last* step of each branch
(``a2`` and ``b3``), not the first.
"""
from metaflow import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.value = 1
        self.next(self.a1, self.b1)

    @step
    def a1(self):
        self.trace = self.trace + ["a1"]
        self.value = self.value + 10
        self.next(self.a2)

    @step
    def a2(self):
        self.trace = self.trace + ["a2"]
        self.value = self.value * 2
        self.next(self.join)

    @step
    def b1(self):
        self.trace = self.trace + ["b1"]
        self.value = self.value + 100
        self.next(self.b2)

    @step
    def b2(self):
        self.trace = self.trace + ["b2"]
        self.value = self.value + 1
        self.next(self.b3)

    @step
    def b3(self):
        self.trace = self.trace + ["b3"]
        self.value = self.value * 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.a_value = inputs.a2.value  # (1 + 10) * 2 = 22
        self.b_value = inputs.b3.value  # (1 + 100 + 1) * 3 = 306
        self.branch_traces = {"a": inputs.a2.trace, "b": inputs.b3.trace}
        self.total = self.a_value + self.b_value
        self.next(self.end)

    @step
    def end(self):
        self.result = {
            "a_value": self.a_value,
            "b_value": self.b_value,
            "total": self.total,
            "branch_traces": self.branch_traces,
        }
        print("result:", self.result)


if __name__ == "__main__":
    BranchFlow()
