"""Foreach over three items with a two-step body.

Construct: ``start -(foreach items)-> body1 -> body2 -> join -> end``.

Why it matters: every body step runs once per item with the right
``--split-index``; ``body2`` must receive the ``body1`` task of the *same*
item, and the join must gather all three ``body2`` tasks.
"""
from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.items = [3, 5, 7]
        self.next(self.body1, foreach="items")

    @step
    def body1(self):
        self.item = self.input
        self.pos = self.index
        self.square = self.item * self.item
        self.trace = self.trace + ["body1[%d]" % self.pos]
        self.next(self.body2)

    @step
    def body2(self):
        self.value = self.square + self.pos  # 9+0, 25+1, 49+2
        self.trace = self.trace + ["body2[%d]" % self.pos]
        self.next(self.join)

    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.items = ordered[0].items
        self.values = [i.value for i in ordered]
        self.pairs = [[i.item, i.value] for i in ordered]
        self.traces = [i.trace for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        self.result = {
            "values": self.values,  # [9, 26, 51]
            "pairs": self.pairs,
            "total": sum(self.values),  # 86
            "traces": self.traces,
        }
        print("result:", self.result)


if __name__ == "__main__":
    ForeachFlow()
