"""The web fixture serves its pages over verified HTTPS on its own domain."""
import json
import os
import ssl
import urllib.request


def fetch(path):
    """GET https://<domain><path> through the lab ingress (or real DNS in production)."""
    base = os.environ["CCCI_BASE_URL"]
    ca = os.environ.get("CCCI_CA_CERT")
    resolve = os.environ.get("CCCI_CURL_RESOLVE")  # "<domain>:443:<address>"
    ssl_context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    url = base + path
    if resolve:
        domain, port, address = resolve.split(":")
        handler = _PinnedHTTPSHandler(domain, address, context=ssl_context)
        opener = urllib.request.build_opener(handler)
        return opener.open(url, timeout=10)
    return urllib.request.urlopen(url, timeout=10, context=ssl_context)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    """Connects to `address` for `domain` while keeping SNI and certificate checks for `domain`."""

    def __init__(self, domain, address, context):
        super().__init__(context=context)
        self.domain, self.address = domain, address

    def https_open(self, request):
        import http.client

        domain, address = self.domain, self.address

        class Connection(http.client.HTTPSConnection):
            def connect(self):
                import socket

                sock = socket.create_connection((address, self.port or 443), self.timeout)
                self.sock = self._context.wrap_socket(sock, server_hostname=domain)

        return self.do_open(Connection, request, context=self._context)


def test_homepage_has_the_title():
    with fetch("/") as response:
        assert response.status == 200
        assert b"web fixture" in response.read()


def test_health_page_says_ok():
    with fetch("/health") as response:
        assert response.read().strip() == b"ok"
