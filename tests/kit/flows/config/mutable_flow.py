"""Kit contract (test_run_params_multiple_values): a FlowMutator adds the parameter `param2`
and `@environment` variables to every step from a Config; `start` checks them."""
import os

from metaflow import Config, FlowMutator, FlowSpec, Parameter, step


class FromConfig(FlowMutator):
    def pre_mutate(self, mutable_flow):
        settings = dict(mutable_flow.configs)["settings"]
        for name, default in settings["parameters"].items():
            mutable_flow.add_parameter(name, Parameter(name, default=default), overwrite=True)
        for name, step_obj in mutable_flow.steps:
            step_obj.add_decorator("environment", deco_kwargs={"vars": {
                "FLOW_LEVEL": settings["flow_level"], "STEP_LEVEL": "%s:%s" % (settings["step_level"], name)}})


@FromConfig
class MutableFlow(FlowSpec):
    settings = Config("settings", default_value={"parameters": {"param2": "11"}, "flow_level": "flow-env",
                                                 "step_level": "step-env"})
    trigger_param = Parameter("trigger_param", default="none")

    @step
    def start(self):
        assert os.environ["FLOW_LEVEL"] == "flow-env", os.environ.get("FLOW_LEVEL")
        assert os.environ["STEP_LEVEL"] == "step-env:start", os.environ.get("STEP_LEVEL")
        self.next(self.end)

    @step
    def end(self):
        assert os.environ["STEP_LEVEL"] == "step-env:end"


if __name__ == "__main__":
    MutableFlow()
