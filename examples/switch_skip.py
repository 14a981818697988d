"""Switches with a case that has no steps of its own: it goes straight to the merge,
at top level and inside a foreach body.

Construct::

    start --mode--> extra: bonus -> merge          (top level)
                    plain:          merge
    merge -(foreach items)-> body --kind--> big:   shrink -> rejoin
                                            small:           rejoin
          rejoin -> join -> end

``mode`` (default ``plain``) takes the empty case at top level; items
``[3, 40, 5]`` take ``small`` (empty) for 3 and 5 and ``big`` for 40.

Why it matters: an engine must still choose a case when the chosen branch has no
steps (Kestra fails a Switch whose value matches no case) and the merge must read
its input from the switch step itself.
"""
from metaflow import FlowSpec, Parameter, step


class SwitchSkipFlow(FlowSpec):
    mode = Parameter("mode", default="plain", help="Top-level case: extra or plain.")

    @step
    def start(self):
        self.trace = ["start"]
        self.route = self.mode
        self.next({"extra": self.bonus, "plain": self.merge}, condition="route")

    @step
    def bonus(self):
        self.trace = self.trace + ["bonus"]
        self.next(self.merge)

    @step
    def merge(self):
        self.trace = self.trace + ["merge"]
        self.items = [3, 40, 5]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.pos = self.index
        self.kind = "big" if self.item > 10 else "small"
        self.next({"big": self.shrink, "small": self.rejoin}, condition="kind")

    @step
    def shrink(self):
        self.item = self.item // 10
        self.next(self.rejoin)

    @step
    def rejoin(self):
        self.label = "%s:%d" % (self.kind, self.item)
        self.next(self.join)

    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.labels = [i.label for i in ordered]
        self.trace = inputs[0].trace
        self.next(self.end)

    @step
    def end(self):
        # default: labels ["small:3", "big:4", "small:5"], trace ["start", "merge"]
        self.result = {"labels": self.labels, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    SwitchSkipFlow()
