"""The engine clients' TLS settings: an https host keeps httpx's certificate checks; a plain
http host (never spoken TLS to: redirects are not followed) gets a context that trusts no
certificate, so it skips loading a CA bundle without ever accepting an unchecked one."""
import ssl

from metaflow_extensions.orchestrators.plugins.rest import _tls_for
from metaflow_extensions.orchestrators.plugins.kestra.client import KestraClient


def test_https_keeps_httpx_verification():
    assert _tls_for("https://kestra.example.com") is True


def test_http_gets_a_context_that_trusts_nothing():
    ctx = _tls_for("http://127.0.0.1:8080")
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0


def test_clients_do_not_follow_redirects():
    with KestraClient("http://127.0.0.1:9") as client:
        assert client._http.follow_redirects is False
