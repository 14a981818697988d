"""Kit contract (test_branch_propagated_to_steps, test_from_deployment_dotted_name): a
@project flow whose `end` stores the branch its tasks ran under."""
from metaflow import FlowSpec, current, project, step


@project(name="kit_hello_project")
class HelloProjectFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.branch = current.branch_name
        self.project = current.project_name


if __name__ == "__main__":
    HelloProjectFlow()
