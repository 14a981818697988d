"""A real S3-compatible server on loopback for the tests: S3Proxy (Maven Central
``org.gaul:s3proxy``) with its filesystem backend, one per test process.

The jar comes from Maven Central through ``mvn dependency:get`` into ``MAVEN_REPO_LOCAL``
(or Maven's default repository). Without Maven or Java the S3 tests skip, saying why:
nothing is faked.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, Iterator

VERSION = "2.6.0"
ARTIFACT = "org.gaul:s3proxy:%s:jar:jar-with-dependencies" % VERSION
BUCKET = "mfo-test"
ACCESS_KEY, SECRET_KEY = "mfo-test-access", "mfo-test-secret-key"  # a throwaway server's own keys


@dataclass
class S3Server:
    url: str
    root: str  # the filesystem backend: <root>/<bucket>/<key>

    def env(self) -> Dict[str, str]:
        """What a client of this server (Metaflow, boto3) needs. Newer boto3 sends checksum
        headers S3Proxy does not implement unless asked to send them only when required."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required", "METAFLOW_S3_ENDPOINT_URL": self.url}


def jar() -> str:
    repo = os.environ.get("MAVEN_REPO_LOCAL") or os.path.expanduser("~/.m2/repository")
    pattern = os.path.join(repo, "org", "gaul", "s3proxy", VERSION, "s3proxy-%s-jar-with-dependencies.jar" % VERSION)
    found = glob.glob(pattern)
    if found:
        return found[0]
    mvn = shutil.which("mvn")
    if not mvn:
        raise FileNotFoundError("Maven (mvn) is not installed: it fetches S3Proxy from Maven Central")
    subprocess.run([mvn, "-q", "-B", "dependency:get", "-Dartifact=" + ARTIFACT, "-Dmaven.repo.local=" + repo],
                   check=True, timeout=600)
    return glob.glob(pattern)[0]


def _java() -> str:
    java = shutil.which("java")
    if not java:
        raise FileNotFoundError("no java on PATH: S3Proxy is a Java server")
    return java


@contextlib.contextmanager
def start() -> Iterator[S3Server]:
    root = tempfile.mkdtemp(prefix="mfo-s3-")
    os.makedirs(os.path.join(root, BUCKET))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = os.path.join(root, "s3proxy.conf")
    with open(conf, "w") as f:
        f.write("\n".join(["s3proxy.endpoint=http://127.0.0.1:%d" % port, "s3proxy.authorization=aws-v2-or-v4",
                           "s3proxy.identity=" + ACCESS_KEY, "s3proxy.credential=" + SECRET_KEY,
                           "jclouds.provider=filesystem", "jclouds.filesystem.basedir=" + root, ""]))
    log = open(os.path.join(root, "s3proxy.log"), "w")
    proc = subprocess.Popen([_java(), "-jar", jar(), "--properties", conf], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("S3Proxy did not start: see %s" % log.name)
                time.sleep(0.2)
        yield S3Server("http://127.0.0.1:%d" % port, root)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
