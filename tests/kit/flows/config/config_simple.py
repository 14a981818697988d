"""Kit contract (test_config_value_propagated, test_config_params_excluded_from_init): two
Configs (one read from a file, relative to the flows directory the kit runs in, one with a default the test overrides) and one Parameter;
@project takes its name from a config."""
from metaflow import Config, FlowSpec, Parameter, config_expr, project, step


@project(name=config_expr("cfg_default_value.a.project_name"))
class ConfigSimpleFlow(FlowSpec):
    cfg = Config("cfg", default="config/config_simple.json")
    cfg_default_value = Config("cfg_default_value",
                               default_value={"a": {"project_name": "config_project", "b": "56"}})
    trigger_param = Parameter("trigger_param", default="none")

    @step
    def start(self):
        self.greeting = self.cfg.greeting
        self.next(self.end)

    @step
    def end(self):
        self.config_val_2 = self.cfg_default_value.a.b
        self.config_n = self.cfg.n


if __name__ == "__main__":
    ConfigSimpleFlow()
