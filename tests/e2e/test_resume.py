"""Resume on both engines, as Metaflow's own ``resume`` behaves: a NEW run that clones every
task of the origin run that succeeded (outside the steps to re-run) and runs the rest.

The flow has a static split whose one branch holds a nested foreach; one leaf task fails
while a file says so (never by editing the flow). Every execution of a task appends its
run and task to ``executed.log`` next to the flow: a cloned task never appears there under
the new run, and its artifacts are the origin task's.
"""
import time
from collections import Counter

import pytest

pytestmark = [pytest.mark.e2e]

FLOW = '''
import os
import time
from metaflow import FlowSpec, Parameter, current, step

HERE = @HERE@  # the test's directory: the flow itself runs from its code package


def executed():
    with open(os.path.join(HERE, "executed.log"), "a") as log:
        log.write("%s %s/%s\\n" % (current.run_id, current.step_name, current.task_id))


def failing(where):
    path = os.path.join(HERE, "fail-at")
    return os.path.exists(path) and open(path).read().strip() == where


class ResumeFlow(FlowSpec):
    scale = Parameter("scale", default=1, type=int)

    @step
    def start(self):
        executed()
        self.outer = [1, 2]
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self):
        executed()
        self.next(self.outer_step, foreach="outer")

    @step
    def outer_step(self):
        executed()
        self.o = self.input
        self.inner = [10, 20]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        executed()
        if failing("leaf") and (self.o, self.input) == (2, 20):
            raise RuntimeError("leaf 2/20 fails while fail-at says so")
        if failing("hang") and (self.o, self.input) == (2, 20):
            time.sleep(300)
        self.value = self.o * self.input * self.scale
        self.origin = current.origin_run_id
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        executed()
        self.values = [i.value for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        executed()
        self.values = sorted(v for i in inputs for v in i.values)
        self.next(self.merge)

    @step
    def branch_b(self):
        executed()
        self.b = "b%d" % self.scale
        self.next(self.merge)

    @step
    def merge(self, inputs):
        executed()
        self.values = inputs.outer_join.values
        self.b = inputs.branch_b.b
        self.next(self.end)

    @step
    def end(self):
        executed()
        self.total = sum(self.values)


if __name__ == "__main__":
    ResumeFlow()
'''

EVERY_TASK = {"start/t", "branch_a/t", "branch_b/t", "outer_step/t-0", "outer_step/t-1", "leaf/t-0-0", "leaf/t-0-1",
              "leaf/t-1-0", "leaf/t-1-1", "inner_join/t-0", "inner_join/t-1", "outer_join/t", "merge/t", "end/t"}


# On the real engines and the Kestra 1.x emulator (CI time): the most complete case, and the
# resume of a successful run (every task a clone). Every case runs on the other emulators.
REAL_CASES = {"test_resume_of_a_failed_run_clones_what_succeeded",
              "test_resume_of_a_successful_run_clones_everything"}


@pytest.fixture
def flow(tmp_path):
    path = tmp_path / "resume_flow.py"
    path.write_text(FLOW.replace("@HERE@", repr(str(tmp_path))))
    return path


def executions(path, run_id):
    log = path.parent / "executed.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(task for run, task in (line.split() for line in lines) if run == run_id)


def fail_at(path, where):
    (path.parent / "fail-at").write_text(where)


def wait(triggered):
    return triggered.wait_for_completion(check_interval=1, timeout=300)


def origin_of(task):
    return task.metadata_dict.get("origin-run-id")


def test_resume_of_a_failed_run_clones_what_succeeded(target, flow):
    from metaflow import Run

    fail_at(flow, "leaf")
    deployed = target.deployer(flow)
    first = deployed.trigger(scale=2)
    assert wait(first) == "FAILED"
    origin = first.run.id
    ran_first = executions(flow, origin)
    assert ran_first["leaf/t-1-1"] >= 1 and "end/t" not in ran_first

    fail_at(flow, "nowhere")
    resumed = deployed.resume(origin_run_id=origin)
    assert wait(resumed) == "SUCCEEDED"
    run = Run("ResumeFlow/%s" % resumed.run.id)
    assert run.id != origin and run.successful
    assert run["end"].task.data.total == (10 + 20 + 20 + 40) * 2 and run["merge"].task.data.b == "b2"

    ran = executions(flow, run.id)
    assert all(count == 1 for count in ran.values()), ran
    origin_ok = {"%s/%s" % (s.id, t.id) for s in Run("ResumeFlow/" + origin) for t in s if t.successful}
    assert set(ran) == EVERY_TASK - origin_ok, "cloned tasks ran again, or a task did not run"
    assert {"start/t", "branch_a/t", "branch_b/t", "leaf/t-0-0", "leaf/t-1-0"} <= origin_ok
    for step_task in ("start/t", "leaf/t-0-0", "leaf/t-1-0", "outer_step/t-1"):
        step, task_id = step_task.split("/")
        clone, before = run[step][task_id], Run("ResumeFlow/" + origin)[step][task_id]
        assert origin_of(clone) == origin
        assert {a.id: a.sha for a in clone} == {a.id: a.sha for a in before}
    # A re-executed task knows the run it resumes (current.origin_run_id), as in a local resume.
    assert run["leaf"]["t-1-1"].data.origin == origin and run["leaf"]["t-0-0"].data.origin is None


def test_resume_of_a_successful_run_clones_everything(target, flow):
    from metaflow import Run

    fail_at(flow, "nowhere")
    deployed = target.deployer(flow)
    first = deployed.trigger()
    assert wait(first) == "SUCCEEDED"
    resumed = deployed.resume(origin_run_id=first.run.id)
    assert wait(resumed) == "SUCCEEDED"
    run = Run("ResumeFlow/%s" % resumed.run.id)
    assert run.successful and run["end"].task.data.total == 90
    assert executions(flow, run.id) == Counter(), "a resume of a successful run re-ran tasks"
    assert all(origin_of(t) == first.run.id for s in run for t in s)

    again = deployed.resume(origin_run_id=first.run.id, step_to_rerun="merge")
    assert wait(again) == "SUCCEEDED"
    assert executions(flow, again.run.id) == Counter({"merge/t": 1, "end/t": 1})
    assert Run("ResumeFlow/%s" % again.run.id)["end"].task.data.total == 90


def test_cli_resume_from_a_middle_step(target, flow):
    from metaflow import Run

    fail_at(flow, "nowhere")
    proc = target.cli(flow, "run", "--wait", "--worker-python=%s" % target.module.WORKER_PYTHON)
    origin = next(w for w in (proc.stdout + proc.stderr).split() if w.startswith("ResumeFlow/")).split("/")[1]
    proc = target.cli(flow, "resume", "--clone-run-id", origin, "--step", "outer_step", "--wait")
    out = proc.stdout + proc.stderr
    assert "from step outer_step" in out and "resuming %s" % origin in out
    new = next(w for w in out.split() if w.startswith("ResumeFlow/")).split("/")[1].rstrip(".")
    ran = executions(flow, new)
    assert set(ran) == EVERY_TASK - {"start/t", "branch_a/t", "branch_b/t"}
    assert Run("ResumeFlow/" + new)["end"].task.data.total == 90


def test_resume_with_new_parameter_values_runs_every_step_with_them(target, flow):
    from metaflow import Run

    fail_at(flow, "leaf")
    deployed = target.deployer(flow)
    first = deployed.trigger(scale=1)
    assert wait(first) == "FAILED"
    fail_at(flow, "nowhere")
    resumed = deployed.resume(origin_run_id=first.run.id, scale=3)
    assert wait(resumed) == "SUCCEEDED"
    run = Run("ResumeFlow/%s" % resumed.run.id)
    assert run["end"].task.data.total == 90 * 3 and run["merge"].task.data.b == "b3"
    assert set(executions(flow, run.id)) == EVERY_TASK
    assert run["start"].task.data.scale == 3


def test_resume_of_a_killed_run_runs_what_was_killed(target, flow):
    """Kestra 1.x cannot restart a KILLED execution; a resume into a new run can."""
    from metaflow import Run

    fail_at(flow, "hang")
    deployed = target.deployer(flow)
    first = deployed.trigger()
    deadline = time.time() + 120
    while not (first.run and executions(flow, first.run.id)["leaf/t-1-1"]) and time.time() < deadline:
        time.sleep(0.5)
    first.terminate()
    assert wait(first) == "ABORTED"
    fail_at(flow, "nowhere")
    resumed = deployed.resume(origin_run_id=first.run.id)
    assert wait(resumed) == "SUCCEEDED"
    run = Run("ResumeFlow/%s" % resumed.run.id)
    assert run["end"].task.data.total == 90
    ran = executions(flow, run.id)
    assert ran["leaf/t-1-1"] == 1 and "start/t" not in ran and "branch_b/t" not in ran


def test_resume_names_a_missing_step_or_run_in_one_line(target, flow):
    fail_at(flow, "nowhere")
    target.deployer(flow)
    prefix = target.engine + "-"
    proc = target.cli(flow, "resume", "--clone-run-id", prefix + "nosuchrun", check=False)
    assert proc.returncode == 1 and "cannot read run %snosuchrun" % prefix in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = target.cli(flow, "resume", "--clone-run-id", prefix + "x", "--step", "nosuch", check=False)
    assert proc.returncode == 1 and "no step 'nosuch'" in proc.stderr


REQUIRED_FLOW = '''
from metaflow import FlowSpec, Parameter, step


class RequiredFlow(FlowSpec):
    who = Parameter("who", required=True)
    max_items = Parameter("max-items", default=2, type=int)

    @step
    def start(self):
        self.seen = (self.who, self.max_items)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RequiredFlow()
'''


def test_deployer_resume_needs_no_value_for_a_required_parameter(target, tmp_path):
    """Metaflow's Deployer API would demand required parameters on every command; a resume
    takes them from the origin run. Dashed names arrive by their Python spelling."""
    from metaflow import Run

    path = tmp_path / "required_flow.py"
    path.write_text(REQUIRED_FLOW)
    deployed = target.deployer(path)
    first = deployed.trigger(who="ann")
    assert wait(first) == "SUCCEEDED"
    same = deployed.resume(origin_run_id=first.run.id)
    changed = deployed.resume(origin_run_id=first.run.id, who="bob", max_items=5)
    assert wait(same) == "SUCCEEDED" and wait(changed) == "SUCCEEDED"
    assert Run("RequiredFlow/%s" % same.run.id)["end"].task.data.seen == ("ann", 2)
    assert origin_of(Run("RequiredFlow/%s" % same.run.id)["start"].task) == first.run.id
    assert Run("RequiredFlow/%s" % changed.run.id)["end"].task.data.seen == ("bob", 5)
