"""A flow using @parallel (gang-scheduled multi-node steps).

Construct: ``start -(num_parallel=2)-> train -> join -> end``; ``train`` has
``@parallel`` and records its node index.

Why it matters: @parallel needs all nodes started together with a shared
control task and worker discovery (``MF_PARALLEL_*`` variables); our engines
reject it with a clear error, and this flow exists to test that rejection.
It also runs locally with the default runtime (which spawns the worker
itself).
"""
from metaflow import FlowSpec, current, parallel, step


class ParallelFlowFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.train, num_parallel=2)

    @parallel
    @step
    def train(self):
        self.node_index = current.parallel.node_index
        self.num_nodes = current.parallel.num_nodes
        self.next(self.join)

    @step
    def join(self, inputs):
        self.node_indexes = sorted(i.node_index for i in inputs)
        self.num_nodes = inputs[0].num_nodes
        self.next(self.end)

    @step
    def end(self):
        # {"node_indexes": [0, 1], "num_nodes": 2}
        self.result = {"node_indexes": self.node_indexes, "num_nodes": self.num_nodes}
        print("result:", self.result)


if __name__ == "__main__":
    ParallelFlowFlow()
