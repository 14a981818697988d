"""A flow triggered by an external event (``@trigger(event="data_ready")``).

Construct: ``start -> end``; the ``dataset`` Parameter can be set from the
event payload (a payload field named like the parameter, e.g.
``{"dataset": "s3://bucket/new.csv"}``, overrides its default). Locally the
trigger is ignored and the default is used.

Why it matters: engines must subscribe the deployed flow to the event and
map payload fields onto parameters.
"""
from metaflow import FlowSpec, Parameter, step, trigger


@trigger(event="data_ready")
class TriggeredFlow(FlowSpec):
    dataset = Parameter(
        "dataset", default="default.csv", help="Dataset to process; set by the event payload."
    )

    @step
    def start(self):
        self.trace = ["start"]
        self.dataset_upper = self.dataset.upper()
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        # default: {"dataset": "default.csv", "dataset_upper": "DEFAULT.CSV", ...}
        self.result = {
            "dataset": self.dataset,
            "dataset_upper": self.dataset_upper,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    TriggeredFlow()
