"""A static split nested inside one branch of another static split.

Construct::

    start -> ( left -> (left_x | left_y) -> inner_join -> left_done
             | right )
          -> outer_join -> end

Why it matters: each split has its own join; the engine must match
``inner_join`` to ``left`` and ``outer_join`` to ``start``, and the outer join's
inputs are ``left_done`` and ``right``.
"""
from metaflow import FlowSpec, step


class NestedSplitFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.base = 2
        self.next(self.left, self.right)

    @step
    def left(self):
        self.trace = self.trace + ["left"]
        self.base = self.base * 10  # 20
        self.next(self.left_x, self.left_y)

    @step
    def left_x(self):
        self.trace = self.trace + ["left_x"]
        self.part = self.base + 1  # 21
        self.next(self.inner_join)

    @step
    def left_y(self):
        self.trace = self.trace + ["left_y"]
        self.part = self.base + 2  # 22
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.inner_parts = {"x": inputs.left_x.part, "y": inputs.left_y.part}
        self.trace = inputs.left_x.trace[:-1] + ["left_x|left_y", "inner_join"]
        self.next(self.left_done)

    @step
    def left_done(self):
        self.trace = self.trace + ["left_done"]
        self.left_total = self.inner_parts["x"] + self.inner_parts["y"]  # 43
        self.next(self.outer_join)

    @step
    def right(self):
        self.trace = self.trace + ["right"]
        self.right_total = self.base * 100  # 200
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.left_total = inputs.left_done.left_total
        self.inner_parts = inputs.left_done.inner_parts
        self.right_total = inputs.right.right_total
        self.traces = {"left": inputs.left_done.trace, "right": inputs.right.trace}
        self.next(self.end)

    @step
    def end(self):
        self.result = {
            "inner_parts": self.inner_parts,
            "left_total": self.left_total,
            "right_total": self.right_total,
            "grand_total": self.left_total + self.right_total,
            "traces": self.traces,
        }
        print("result:", self.result)


if __name__ == "__main__":
    NestedSplitFlow()
