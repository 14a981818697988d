"""Foreach nested three levels deep (2 x 2 x 2 = 8 leaves).

Construct::

    start -(foreach xs)-> level1 -(foreach ys)-> level2 -(foreach zs)-> level3
          -> join3 -> join2 -> join1 -> end

Why it matters: tasks carry a three-deep foreach stack; each join must gather
only the siblings of its own parent iteration (join3 runs 4 times, join2
twice, join1 once) and split indices must be tracked per level.
"""
from metaflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.xs = ["a", "b"]
        self.next(self.level1, foreach="xs")

    @step
    def level1(self):
        self.x = self.input
        self.ys = [1, 2]
        self.trace = self.trace + ["level1:%s" % self.x]
        self.next(self.level2, foreach="ys")

    @step
    def level2(self):
        self.y = self.input
        self.zs = [10, 20]
        self.trace = self.trace + ["level2:%s" % self.y]
        self.next(self.level3, foreach="zs")

    @step
    def level3(self):
        self.z = self.input
        self.leaf = "%s-%d-%d" % (self.x, self.y, self.z)
        self.trace = self.trace + ["level3:%s" % self.z]
        self.next(self.join3)

    @step
    def join3(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.z)
        self.x = ordered[0].x
        self.y = ordered[0].y
        self.leaves = [i.leaf for i in ordered]
        self.next(self.join2)

    @step
    def join2(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.y)
        self.x = ordered[0].x
        self.by_y = [i.leaves for i in ordered]
        self.next(self.join1)

    @step
    def join1(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.x)
        self.by_x = [i.by_y for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        # [[["a-1-10", "a-1-20"], ["a-2-10", "a-2-20"]],
        #  [["b-1-10", "b-1-20"], ["b-2-10", "b-2-20"]]]
        self.result = self.by_x
        print("result:", self.result)


if __name__ == "__main__":
    NestedForeachFlow()
