"""Flows that test how a flow reaches the workers (its code package), shared by the e2e
and real-server tests."""

# A two-module flow: a helper module next to the flow file, which must travel with it.
HELPER = "def double(x):\n    return 2 * x\n"
TWO_MODULE_FLOW = '''
from metaflow import FlowSpec, Parameter, step

from helper import double


class TwoModuleFlow(FlowSpec):
    n = Parameter("n", default=3, type=int)

    @step
    def start(self):
        import helper
        import metaflow
        from metaflow_extensions.orchestrators.plugins.runtime import entry

        self.files = [metaflow.__file__, entry.__file__, helper.__file__]
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = double(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TwoModuleFlow()
'''
