"""A foreach inside one case of a switch; the other case is linear.

Construct::

    start --route--> fanout: fan -(foreach items)-> work -> work_join -> merge
                     direct: direct                                   -> merge
          merge -> end

Why it matters: when the ``fanout`` case is taken, the whole foreach (split,
body tasks, join) sits between the switch and the merge step; when
``direct`` is taken, none of it runs. The ``mode`` parameter picks the case
(default ``fanout`` so the foreach is exercised).
"""
from metaflow import FlowSpec, Parameter, step


class ForeachInSwitchFlow(FlowSpec):
    mode = Parameter("mode", default="fanout", help="Which case to take: fanout or direct.")

    @step
    def start(self):
        self.trace = ["start"]
        self.route = self.mode
        self.next({"fanout": self.fan, "direct": self.direct}, condition="route")

    @step
    def fan(self):
        self.trace = self.trace + ["fan"]
        self.items = [2, 4, 6]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.pos = self.index
        self.half = self.input // 2
        self.next(self.work_join)

    @step
    def work_join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.values = [i.half for i in ordered]
        self.route = ordered[0].route  # joins do not propagate artifacts implicitly
        self.trace = ordered[0].trace + ["work*%d" % len(ordered), "work_join"]
        self.next(self.merge)

    @step
    def direct(self):
        self.trace = self.trace + ["direct"]
        self.values = [0]
        self.next(self.merge)

    @step
    def merge(self):
        self.trace = self.trace + ["merge"]
        self.total = sum(self.values)
        self.next(self.end)

    @step
    def end(self):
        # default (fanout): values [1, 2, 3], total 6,
        # trace ["start", "fan", "work*3", "work_join", "merge"]
        self.result = {
            "route": self.route,
            "values": self.values,
            "total": self.total,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    ForeachInSwitchFlow()
