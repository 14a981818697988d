"""A switch inside a foreach body; the case depends on the item.

Construct::

    start -(foreach items)-> body --route--> even: even_step        -> merge
                                             odd:  odd_a -> odd_b   -> merge
          merge -> join -> end

Items ``[1, 2, 3, 4]``: iterations 0 and 2 take ``odd``, 1 and 3 take
``even``, so different iterations follow different paths and the converging
``merge`` has a different parent per iteration.

Why it matters: the engine must evaluate the switch per iteration and keep
the foreach stack intact across the case steps and the merge.
"""
from metaflow import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.items = [1, 2, 3, 4]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.pos = self.index
        self.route = "even" if self.item % 2 == 0 else "odd"
        self.trace = self.trace + ["body[%d]" % self.pos]
        self.next({"even": self.even_step, "odd": self.odd_a}, condition="route")

    @step
    def even_step(self):
        self.value = self.item * 100
        self.trace = self.trace + ["even_step"]
        self.next(self.merge)

    @step
    def odd_a(self):
        self.value = self.item + 1
        self.trace = self.trace + ["odd_a"]
        self.next(self.odd_b)

    @step
    def odd_b(self):
        self.value = self.value * 10
        self.trace = self.trace + ["odd_b"]
        self.next(self.merge)

    @step
    def merge(self):
        self.trace = self.trace + ["merge"]
        self.summary = [self.item, self.route, self.value]
        self.next(self.join)

    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.summaries = [i.summary for i in ordered]
        self.traces = [i.trace for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        # summaries: [[1, "odd", 20], [2, "even", 200], [3, "odd", 40], [4, "even", 400]]
        self.result = {"summaries": self.summaries, "traces": self.traces}
        print("result:", self.result)


if __name__ == "__main__":
    SwitchInForeachFlow()
