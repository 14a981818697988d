"""A static split/join inside a foreach body.

Construct::

    start -(foreach items)-> body -> (left | right) -> branch_join
          -> foreach_join -> end

Why it matters: the static split runs once per foreach iteration; each
``branch_join`` must gather the ``left``/``right`` tasks of its own iteration
only, and ``foreach_join`` gathers one ``branch_join`` per item.
"""
from metaflow import FlowSpec, step


class SplitInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.pos = self.index
        self.trace = self.trace + ["body[%d]" % self.pos]
        self.next(self.left, self.right)

    @step
    def left(self):
        self.part = self.item + 100
        self.trace = self.trace + ["left"]
        self.next(self.branch_join)

    @step
    def right(self):
        self.part = self.item * 10
        self.trace = self.trace + ["right"]
        self.next(self.branch_join)

    @step
    def branch_join(self, inputs):
        self.item = inputs.left.item
        self.pos = inputs.left.pos
        self.combined = [inputs.left.part, inputs.right.part]
        self.next(self.foreach_join)

    @step
    def foreach_join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.per_item = [[i.item] + i.combined for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        # [[1, 101, 10], [2, 102, 20], [3, 103, 30]]
        self.result = self.per_item
        print("result:", self.result)


if __name__ == "__main__":
    SplitInForeachFlow()
