"""A flow triggered when another flow finishes (``@trigger_on_finish``).

Construct: ``start -> end`` with ``@trigger_on_finish(flow="LinearFlow")``
(see ``linear.py``). Locally the trigger is ignored.

Why it matters: engines must start this flow after a successful
``LinearFlow`` run (or reject the decorator clearly).
"""
from metaflow import FlowSpec, step, trigger_on_finish


@trigger_on_finish(flow="LinearFlow")
class OnFinishFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.upstream = "LinearFlow"
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {"upstream": self.upstream, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    OnFinishFlow()
