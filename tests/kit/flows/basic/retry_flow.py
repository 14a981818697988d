"""Kit contract (test_retry_count_from_scheduler): `flaky` fails on attempt 0 and stores
the attempt it succeeded on."""
from metaflow import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count < 1:
            raise RuntimeError("failing on purpose on attempt %d" % current.retry_count)
        self.attempts = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryFlow()
