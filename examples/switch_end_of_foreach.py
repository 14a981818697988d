"""A switch at the end of a foreach body: cases go straight to the foreach join.

Construct::

    start -(foreach items)-> body --route--> small -> join
                                             big   -> join
          join -> end

There is no merge step inside the body: the foreach ``join`` has two possible
parents (``small`` and ``big``) and gathers, per iteration, whichever one ran.

Why it matters: the join's ``--input-paths`` mixes tasks of different steps
(e.g. ``R/small/5,R/big/6,...``); Argo rejects this shape, so engines must
handle it explicitly (or reject it clearly).
"""
from metaflow import FlowSpec, step


class SwitchEndOfForeachFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.items = [5, 50, 7]
        self.threshold = 10
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.pos = self.index
        self.route = "big" if self.item > self.threshold else "small"
        self.next({"small": self.small, "big": self.big}, condition="route")

    @step
    def small(self):
        self.label = "small:%d" % self.item
        self.next(self.join)

    @step
    def big(self):
        self.label = "BIG:%d" % (self.item * 2)
        self.next(self.join)

    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.labels = [i.label for i in ordered]
        self.routes = [i.route for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        # labels: ["small:5", "BIG:100", "small:7"]; routes: ["small", "big", "small"]
        self.result = {"labels": self.labels, "routes": self.routes}
        print("result:", self.result)


if __name__ == "__main__":
    SwitchEndOfForeachFlow()
