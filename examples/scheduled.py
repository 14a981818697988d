"""A flow with a daily schedule (``@schedule(daily=True)``).

Construct: ``start -> end`` with a flow-level schedule. Locally the schedule
is ignored; ``run`` just executes the flow.

Why it matters: when deployed, engines must translate the schedule into
their own scheduling mechanism (daily = cron ``0 0 * * *``).
"""
from metaflow import FlowSpec, schedule, step


@schedule(daily=True)
class ScheduledFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {"value": self.value, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    ScheduledFlow()
