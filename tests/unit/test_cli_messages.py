"""What a user reads when something is wrong: one verbatim line, no traceback, exit status 1
(issue 16: Metaflow's exception printer used to turn a cron's `*`s into bold markup)."""
import os
import shutil
import socket
import subprocess
import sys

import pytest

BAD_CRON = '''
from metaflow import FlowSpec, schedule, step


@schedule(cron="*/5 * * * * * *")
class BadCronFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadCronFlow()
'''


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metaflow_orchestrators.cli", *args],
                          capture_output=True, text=True, timeout=180)  # under a loaded CI machine an interpreter start can take long


def test_each_emulator_prints_its_own_help():
    for engine, option in (("windmill", "--workspace"), ("kestra", "--password")):
        proc = _cli("emulate", engine, "--help")
        assert proc.returncode == 0 and "emulate %s" % engine in proc.stdout and option in proc.stdout, proc.stdout
    top = _cli("--help")
    assert top.returncode == 0 and "emulate" in top.stdout


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for engine in ("windmill", "kestra"):
            proc = _cli("emulate", engine, "--port", str(port))
            assert proc.returncode != 0 and "cannot listen on 127.0.0.1:%d" % port in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr


def test_make_demo_passes_args():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not shutil.which("make"):
        pytest.skip("no make")
    proc = subprocess.run(["make", "-n", "demo", "ARGS=--keep", "PYTHON=python3"], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "examples/demo.py --keep" in proc.stdout, proc.stdout + proc.stderr


BAD_TZ = BAD_CRON.replace('@schedule(cron="*/5 * * * * * *")', '@schedule(cron="0 6 * * *", timezone="Mars/Olympus")')
NUL_DEFAULT = BAD_CRON.replace('@schedule(cron="*/5 * * * * * *")\n', "").replace(
    "    @step\n    def start", "    text = Parameter('text', default='a\\x00b')\n\n    @step\n    def start", 1).replace(
    "from metaflow import FlowSpec, schedule, step", "from metaflow import FlowSpec, Parameter, step")
REFUSED_AT_COMPILE = [
    # Metaflow's exception printer used to eat the `*`s of a cron: the message is verbatim.
    (BAD_CRON, "'*/5 * * * * * *' must have 5 or 6 fields"),
    (BAD_TZ, "timezone 'Mars/Olympus' is not an IANA time zone"),
    (NUL_DEFAULT, "parameter 'text' holds a NUL character"),
]


@pytest.mark.parametrize("engine", ["kestra", "windmill"])
@pytest.mark.parametrize("source,message", REFUSED_AT_COMPILE, ids=["cron", "timezone", "nul-default"])
def test_bad_flows_are_refused_at_compile_with_one_verbatim_line(engine, source, message, tmp_path):
    flow = tmp_path / "bad_flow.py"
    flow.write_text(source)
    proc = subprocess.run([sys.executable, str(flow), "--no-pylint", engine, "compile", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


HUGE_TAGS = ["--tag", "t" * 60000, "--tag", "u" * 60000, "--tag", "v" * 60000]


@pytest.mark.parametrize("engine", ["kestra", "windmill"])
def test_settings_no_task_can_receive_are_refused_at_compile(engine, tmp_path):
    """Issue 18, item 3: beyond what one process argument holds, one line before anything is deployed."""
    flow = tmp_path / "good.py"
    flow.write_text(BAD_TZ.replace(', timezone="Mars/Olympus"', ""))
    proc = subprocess.run([sys.executable, str(flow), "--no-pylint", engine, "compile", str(tmp_path / "out"),
                           *HUGE_TAGS], capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 1 and "Linux limits to 128 KiB" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
