"""Kit contract (test_nested_foreach_or_skip): a foreach inside a foreach; `outer_join`
gathers ["x-1", "y-1"] in order."""
from metaflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["x", "y"]
        self.next(self.outer_body, foreach="outer")

    @step
    def outer_body(self):
        self.letter = self.input
        self.inner = [1]
        self.next(self.inner_body, foreach="inner")

    @step
    def inner_body(self):
        self.result = "%s-%d" % (self.letter, self.input)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_results = [r for i in inputs for r in i.results]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedForeachFlow()
