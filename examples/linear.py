"""Linear flow with every Parameter type.

Construct: a straight chain ``start -> a -> b -> end`` plus Parameters of every
kind Metaflow supports (int, float, bool, str, JSONType, a hyphenated CLI name
mapped to a Python attribute, and a parameter with help text).

Why it matters: this is the simplest possible graph, so it is the baseline for
plan building and launching; the parameters exercise how an engine passes
typed values (including JSON and hyphenated names) through to ``start``.
"""
from metaflow import FlowSpec, JSONType, Parameter, step


class LinearFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)
    ratio = Parameter("ratio", default=0.5, type=float)
    flag = Parameter("flag", default=False, type=bool)
    greeting = Parameter("greeting", default="hi", type=str)
    config_json = Parameter("config_json", default='{"k": [1, 2]}', type=JSONType)
    # Hyphenated CLI name (--max-items); the Python attribute is `max_items`.
    max_items = Parameter("max-items", default=3, type=int)
    label = Parameter(
        "label",
        default="demo",
        help="Free-form label copied into the result (checks help text plumbing).",
    )

    @step
    def start(self):
        self.trace = ["start"]
        self.scaled = self.alpha * self.ratio
        self.next(self.a)

    @step
    def a(self):
        self.trace = self.trace + ["a"]
        self.items = list(range(self.max_items))
        self.next(self.b)

    @step
    def b(self):
        self.trace = self.trace + ["b"]
        self.message = "%s x%d" % (self.greeting, self.alpha)
        self.json_total = sum(self.config_json["k"])
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {
            "alpha": self.alpha,
            "ratio": self.ratio,
            "flag": bool(self.flag),
            "greeting": self.greeting,
            "config_json": self.config_json,
            "max_items": self.max_items,
            "label": self.label,
            "scaled": self.scaled,
            "items": self.items,
            "message": self.message,
            "json_total": self.json_total,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    LinearFlow()
