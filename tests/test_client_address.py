"""The one client-address function, read as nginx's ``$proxy_add_x_forwarded_for`` writes it."""

import pytest
from django.test import RequestFactory

from kpiplatform.client_address import client_address


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "client"),
    [
        # No trusted proxy: the header is the client's own text and is ignored.
        (0, "198.51.100.7", "203.0.113.1", "198.51.100.7"),
        # One proxy: it appended the address it saw; the rest is forgeable.
        (1, "172.18.0.5", "198.51.100.7", "198.51.100.7"),
        (1, "172.18.0.5", "203.0.113.1, 198.51.100.7", "198.51.100.7"),
        (1, "172.18.0.5", "10.0.0.1,203.0.113.1 ,  198.51.100.7", "198.51.100.7"),
        # Two proxies: the outer one appended the client, the inner one the outer proxy.
        (2, "172.18.0.5", "203.0.113.1, 198.51.100.7, 172.18.0.9", "198.51.100.7"),
        (1, "172.18.0.5", "203.0.113.1, 2001:db8::7", "2001:db8::7"),
        # Fewer entries than proxies, or no address where the client should be: not trusted.
        (2, "172.18.0.5", "198.51.100.7", "172.18.0.5"),
        (1, "172.18.0.5", None, "172.18.0.5"),
        (1, "172.18.0.5", "", "172.18.0.5"),
        (1, "172.18.0.5", "198.51.100.7, unknown", "172.18.0.5"),
    ],
)
def test_the_client_is_the_entry_the_outermost_trusted_proxy_appended(
    settings, proxies, remote, forwarded, client
):
    settings.KPI_TRUSTED_PROXY_COUNT = proxies
    assert client_address(request(remote, forwarded)) == client
