"""A foreach inside one branch of a static split; the other branch is linear.

Construct::

    start -> ( fan -(foreach items)-> work -> work_join
             | lin_a -> lin_b )
          -> outer_join -> end

Why it matters: the outer join must wait for the whole foreach (its
``work_join``) on one side and a plain chain on the other; its input paths are
``work_join`` and ``lin_b``.
"""
from metaflow import FlowSpec, step


class ForeachInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.offset = 1
        self.next(self.fan, self.lin_a)

    @step
    def fan(self):
        self.trace = self.trace + ["fan"]
        self.items = ["p", "q", "r"]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.pos = self.index
        self.tagged = "%s%d" % (self.input, self.pos + self.offset)
        self.next(self.work_join)

    @step
    def work_join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.tagged_all = [i.tagged for i in ordered]
        self.trace = ordered[0].trace + ["work*%d" % len(ordered), "work_join"]
        self.next(self.outer_join)

    @step
    def lin_a(self):
        self.trace = self.trace + ["lin_a"]
        self.linear_value = self.offset + 41
        self.next(self.lin_b)

    @step
    def lin_b(self):
        self.trace = self.trace + ["lin_b"]
        self.linear_value = self.linear_value * 2  # 84
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.tagged_all = inputs.work_join.tagged_all
        self.linear_value = inputs.lin_b.linear_value
        self.traces = {"foreach": inputs.work_join.trace, "linear": inputs.lin_b.trace}
        self.next(self.end)

    @step
    def end(self):
        self.result = {
            "tagged": self.tagged_all,  # ["p1", "q2", "r3"]
            "linear_value": self.linear_value,  # 84
            "traces": self.traces,
        }
        print("result:", self.result)


if __name__ == "__main__":
    ForeachInSplitFlow()
