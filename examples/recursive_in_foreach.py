"""A recursive switch inside a foreach body: each iteration loops its own number of times.

Construct::

    start -(foreach targets)-> count --more--> again: count   (self-loop)
                                                done:  tally
    tally -> join -> end

Targets ``[2, 1, 3]``: ``count`` runs twice in iteration 0, once in 1 and three
times in 2, each pass's ``--input-paths`` being the previous pass of the same
iteration.

Why it matters: the loop's passes must be numbered per iteration and read the
iteration's own branch reports, at a position engines address by foreach value.
"""
from metaflow import FlowSpec, step


class RecursiveInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.targets = [2, 1, 3]
        self.next(self.count, foreach="targets")

    @step
    def count(self):
        if not hasattr(self, "passes"):
            self.target = self.input
            self.pos = self.index
            self.passes = 0
        self.passes += 1
        self.more = "again" if self.passes < self.target else "done"
        self.next({"again": self.count, "done": self.tally}, condition="more")

    @step
    def tally(self):
        self.summary = "%d:%d" % (self.pos, self.passes)
        self.next(self.join)

    @step
    def join(self, inputs):
        ordered = sorted(inputs, key=lambda i: i.pos)
        self.passes = [i.passes for i in ordered]
        self.summaries = [i.summary for i in ordered]
        self.next(self.end)

    @step
    def end(self):
        # passes: [2, 1, 3], summaries ["0:2", "1:1", "2:3"]
        self.result = {"passes": self.passes, "summaries": self.summaries}
        print("result:", self.result)


if __name__ == "__main__":
    RecursiveInForeachFlow()
