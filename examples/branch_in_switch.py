"""A static split/join inside one case of a switch.

Construct::

    start --route--> split: splitter -> (p | q) -> split_join -> merge
                     plain: plain                             -> merge
          merge -> end

Why it matters: the static split and its join live entirely inside a
conditional case, so they must run only when that case is chosen, and the
merge step's parent is either ``split_join`` or ``plain``. The ``mode``
parameter picks the case (default ``split``).
"""
from metaflow import FlowSpec, Parameter, step


class BranchInSwitchFlow(FlowSpec):
    mode = Parameter("mode", default="split", help="Which case to take: split or plain.")

    @step
    def start(self):
        self.trace = ["start"]
        self.route = self.mode
        self.seed = 5
        self.next({"split": self.splitter, "plain": self.plain}, condition="route")

    @step
    def splitter(self):
        self.trace = self.trace + ["splitter"]
        self.next(self.p, self.q)

    @step
    def p(self):
        self.part = self.seed + 1
        self.next(self.split_join)

    @step
    def q(self):
        self.part = self.seed * 2
        self.next(self.split_join)

    @step
    def split_join(self, inputs):
        self.parts = [inputs.p.part, inputs.q.part]  # [6, 10]
        self.trace = inputs.p.trace + ["p|q", "split_join"]
        self.route = inputs.p.route
        self.next(self.merge)

    @step
    def plain(self):
        self.trace = self.trace + ["plain"]
        self.parts = [self.seed]
        self.next(self.merge)

    @step
    def merge(self):
        self.trace = self.trace + ["merge"]
        self.total = sum(self.parts)
        self.next(self.end)

    @step
    def end(self):
        # default (split): parts [6, 10], total 16
        self.result = {
            "route": self.route,
            "parts": self.parts,
            "total": self.total,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    BranchInSwitchFlow()
