"""A switch inside one branch of a static split; its cases end at the split's join.

Construct::

    start -> ( decide --route--> hi: hi_step -> join
                                 lo: lo_step -> join
             | other                          -> join )
          join -> end

Why it matters: the static ``join`` has three possible parents but gathers
exactly two tasks: ``other`` plus whichever switch case ran. The switch has
no merge step of its own. The ``level`` parameter feeds the decision
(default 7 -> ``hi``).
"""
from metaflow import FlowSpec, Parameter, step


class SwitchInBranchFlow(FlowSpec):
    level = Parameter("level", default=7, type=int, help="Values above 5 take the 'hi' case.")

    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.decide, self.other)

    @step
    def decide(self):
        self.trace = self.trace + ["decide"]
        self.side = "switch"
        self.route = "hi" if self.level > 5 else "lo"
        self.next({"hi": self.hi_step, "lo": self.lo_step}, condition="route")

    @step
    def hi_step(self):
        self.trace = self.trace + ["hi_step"]
        self.value = self.level * 100
        self.next(self.join)

    @step
    def lo_step(self):
        self.trace = self.trace + ["lo_step"]
        self.value = self.level
        self.next(self.join)

    @step
    def other(self):
        self.trace = self.trace + ["other"]
        self.side = "other"
        self.other_value = self.level + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.branch_count = len(list(inputs))
        switch_side = [i for i in inputs if i.side == "switch"][0]
        other_side = [i for i in inputs if i.side == "other"][0]
        self.route = switch_side.route
        self.value = switch_side.value
        self.other_value = other_side.other_value
        self.traces = [switch_side.trace, other_side.trace]
        self.next(self.end)

    @step
    def end(self):
        # default: route "hi", value 700, other_value 8, branch_count 2
        self.result = {
            "route": self.route,
            "value": self.value,
            "other_value": self.other_value,
            "branch_count": self.branch_count,
            "traces": self.traces,
        }
        print("result:", self.result)


if __name__ == "__main__":
    SwitchInBranchFlow()
