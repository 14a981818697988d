"""A flow using @project (namespaced deployments).

Construct: ``start -> end`` decorated with ``@project(name="demo_project")``.
``start`` stores ``current.project_name``, ``current.branch_name`` and
``current.project_flow_name``.

Why it matters: @project changes the deployed flow name
(``demo_project.<branch>.ProjectFlowFlow``) and the branch (``user.<name>``
by default, ``test.<b>`` / ``prod`` with ``--branch`` / ``--production``);
engines must derive deployment names and pass the branch options to every
task. Note the default branch depends on the user name, so compare runs made
by the same user.
"""
from metaflow import FlowSpec, current, project, step


@project(name="demo_project")
class ProjectFlowFlow(FlowSpec):
    @step
    def start(self):
        self.project_name = current.project_name
        self.branch_name = current.branch_name
        self.project_flow_name = current.project_flow_name
        self.trace = ["start"]
        self.next(self.end)

    @step
    def end(self):
        self.trace = self.trace + ["end"]
        self.result = {
            "project_name": self.project_name,  # "demo_project"
            "branch_name": self.branch_name,  # e.g. "user.<username>"
            "project_flow_name": self.project_flow_name,
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    ProjectFlowFlow()
