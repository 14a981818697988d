"""A flow using a Metaflow Config and a ``config_expr`` in a decorator.

Construct: ``start -> use_env -> end`` with
``cfg = Config("cfg", default_value={"b": "42", "name": "x"})``. ``start``
reads ``self.cfg.name``; ``use_env`` has
``@environment(vars={"CFG_B": config_expr("cfg.b")})`` and reads ``CFG_B``;
``end`` stores ``self.cfg.b``.

Why it matters: configs are resolved when the flow is deployed/started and
must reach every task identically (engines pass them via the config
options); decorator arguments that depend on configs must be resolved too.
"""
import os

from metaflow import Config, FlowSpec, config_expr, environment, step


class ConfigFlowFlow(FlowSpec):
    cfg = Config("cfg", default_value={"b": "42", "name": "x"})

    @step
    def start(self):
        self.trace = ["start"]
        self.name_seen = self.cfg.name
        self.next(self.use_env)

    @environment(vars={"CFG_B": config_expr("cfg.b")})
    @step
    def use_env(self):
        self.trace = self.trace + ["use_env"]
        self.env_b = os.environ["CFG_B"]
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.cfg_b = self.cfg.b
        # default: {"cfg_b": "42", "env_b": "42", "name": "x", ...}
        self.result = {
            "cfg_b": self.cfg_b,
            "env_b": self.env_b,
            "name": self.name_seen,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    ConfigFlowFlow()
