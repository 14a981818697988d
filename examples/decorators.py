"""Step decorators an engine must honour: @retry, @catch, @timeout, @environment, @resources.

Construct: ``start -> flaky -> risky -> checked -> end`` where

* ``flaky`` has ``@retry(times=2, minutes_between_retries=0)`` and raises on
  attempts 0 and 1, succeeding on attempt 2 (``attempt_seen == 2``);
* ``risky`` has ``@catch(var="caught")`` and always raises; the run carries
  on and ``caught`` holds the wrapped exception;
* ``checked`` has ``@timeout(seconds=30)``, ``@environment(vars=...)`` and
  ``@resources(cpu=1, memory=512)``; it reads ``GREETING`` from the
  environment and checks ``caught`` downstream.

Why it matters: engines must pass ``--retry-count`` correctly on each attempt
(and allow enough attempts: @retry's ``times`` plus @catch's fallback), set
the environment variables and not choke on resource hints.

Note: the ``caught`` / ``_catch_exception`` artifacts contain a stack trace
with file paths; compare ``caught_type`` / ``caught_message`` instead.
"""
import os

from metaflow import (
    FlowSpec,
    catch,
    current,
    environment,
    resources,
    retry,
    step,
    timeout,
)


class DecoratorsFlow(FlowSpec):
    @step
    def start(self):
        self.trace = ["start"]
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count < 2:
            raise RuntimeError("transient failure on attempt %d" % current.retry_count)
        self.attempt_seen = current.retry_count  # 2
        self.trace = self.trace + ["flaky"]
        self.next(self.risky)

    @catch(var="caught", print_exception=False)
    @step
    def risky(self):
        self.trace = self.trace + ["risky"]
        raise ValueError("risky step always fails")
        self.next(self.checked)  # not reached; @catch performs the transition

    @timeout(seconds=30)
    @environment(vars={"GREETING": "hello"})
    @resources(cpu=1, memory=512)
    @step
    def checked(self):
        self.greeting_env = os.environ["GREETING"]
        self.caught_is_set = self.caught is not None
        self.caught_type = self.caught.type if self.caught is not None else None
        self.caught_message = self.caught.exception if self.caught is not None else None
        self.trace = self.trace + ["checked"]
        self.next(self.end)

    @step
    def end(self):
        self.result = {
            "attempt_seen": self.attempt_seen,  # 2
            "caught_is_set": self.caught_is_set,  # True
            "caught_type": self.caught_type,  # "builtins.ValueError"
            "caught_message": self.caught_message,  # "risky step always fails"
            "greeting_env": self.greeting_env,  # "hello"
            "trace": self.trace,
        }
        print("result:", self.result)


if __name__ == "__main__":
    DecoratorsFlow()
