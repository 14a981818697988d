"""A recursive switch: a step whose ``again`` case points back to itself.

Construct::

    start -> loop --next_move--> again: loop   (self-loop)
                                 done:  end

``loop`` increments ``count`` and sets ``next_move = "again"`` until
``count`` reaches ``target`` (default 3), so ``loop`` runs three times, each
task's ``--input-paths`` being the previous ``loop`` task.

Why it matters: the graph has a cycle, which static DAG engines cannot
express directly; engines must unroll it, loop in a sub-flow, or reject it.
"""
from metaflow import FlowSpec, Parameter, step


class RecursiveSwitchFlow(FlowSpec):
    target = Parameter("target", default=3, type=int, help="How many times loop runs.")

    @step
    def start(self):
        self.trace = ["start"]
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count = self.count + 1
        self.trace = self.trace + ["loop%d" % self.count]
        self.next_move = "again" if self.count < self.target else "done"
        self.next({"again": self.loop, "done": self.end}, condition="next_move")

    @step
    def end(self):
        # default: count 3, trace ["start", "loop1", "loop2", "loop3"]
        self.result = {"count": self.count, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    RecursiveSwitchFlow()
