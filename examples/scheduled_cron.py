"""A flow with a cron schedule and a timezone.

Construct: ``start -> end`` with
``@schedule(cron="0 6 ? * MON-FRI *", timezone="Europe/Paris")``. The cron
string is in the AWS/EventBridge 6-field form that Metaflow documents (with
``?`` and a year field). Locally the schedule is ignored.

Why it matters: engines must convert this cron into their own cron dialect
(``?`` and the year field are not standard 5-field cron) and keep the
timezone.
"""
from metaflow import FlowSpec, schedule, step


@schedule(cron="0 6 ? * MON-FRI *", timezone="Europe/Paris")
class ScheduledCronFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.value = 2
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {"value": self.value, "trace": self.trace}
        print("result:", self.result)


if __name__ == "__main__":
    ScheduledCronFlow()
