"""A switch (conditional branch) whose cases have different lengths.

Construct::

    start --route--> short:  s1                -> merge -> end
                     medium: m1 -> m2          -> merge
                     long:   l1 -> l2 -> l3    -> merge

Only the case named by ``self.route`` runs. ``merge`` is an ordinary
(non-join) step with several possible parents; its ``--input-paths`` is the
last task of whichever case ran.

Why it matters: engines must skip the untaken cases and still run the merge
step once. The ``choice`` parameter picks the case (default ``medium``, i.e.
not the first case, so "always take the first branch" bugs show up).
"""
from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    choice = Parameter(
        "choice", default="medium", help="Which case to take: short, medium or long."
    )

    @step
    def start(self):
        self.trace = ["start"]
        self.route = self.choice
        self.value = 1
        self.next(
            {"short": self.s1, "medium": self.m1, "long": self.l1}, condition="route"
        )

    @step
    def s1(self):
        self.trace = self.trace + ["s1"]
        self.value = self.value + 1
        self.next(self.merge)

    @step
    def m1(self):
        self.trace = self.trace + ["m1"]
        self.value = self.value + 10
        self.next(self.m2)

    @step
    def m2(self):
        self.trace = self.trace + ["m2"]
        self.value = self.value * 2
        self.next(self.merge)

    @step
    def l1(self):
        self.trace = self.trace + ["l1"]
        self.value = self.value + 100
        self.next(self.l2)

    @step
    def l2(self):
        self.trace = self.trace + ["l2"]
        self.value = self.value * 3
        self.next(self.l3)

    @step
    def l3(self):
        self.trace = self.trace + ["l3"]
        self.value = self.value - 3
        self.next(self.merge)

    @step
    def merge(self):
        self.trace = self.trace + ["merge"]
        self.next(self.end)

    @step
    def end(self):
        # default (medium): {"route": "medium", "value": 22,
        #                    "trace": ["start", "m1", "m2", "merge"]}
        self.result = {"route": self.route, "value": self.value, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    SwitchFlow()
