from neutrino.cli.client import api_root, connection_error_message, error_from_response


def test_api_root_appends_the_version_once():
    assert api_root("http://h:9696/") == "http://h:9696/v2.0"
    assert api_root("http://h:9696") == "http://h:9696/v2.0"
    assert api_root("http://h:9696/v2.0/") == "http://h:9696/v2.0"
    assert api_root("http://h/networking") == "http://h/networking/v2.0"


def test_neutron_error_message_and_type():
    err = error_from_response(404, {"NeutronError": {
        "type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}})
    assert str(err) == "Network x could not be found."
    assert err.status_code == 404
    assert err.error_type == "NetworkNotFound"


def test_other_error_bodies():
    assert str(error_from_response(501, {"NotImplementedError": {
        "type": "NotImplementedError", "message": "nope"}})) == "nope"
    assert str(error_from_response(400, {"detail": "bad"})) == "bad"
    assert str(error_from_response(502, None, "Bad Gateway")) == "Bad Gateway (HTTP 502)"
    assert str(error_from_response(500, "x")) == "Error (HTTP 500)"


def test_connection_errors_lose_urllib3s_repr():
    text = ("Unable to establish connection to http://127.0.0.1:1/v3/auth/tokens: "
            "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
            "/v3/auth/tokens (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', "
            "port=1): Failed to establish a new connection: [Errno 111] Connection refused\"))")
    assert connection_error_message(Exception(text)) == (
        "Unable to establish connection to http://127.0.0.1:1/v3/auth/tokens: "
        "Connection refused")
    assert connection_error_message(Exception("something else")) == "something else"


class FakeResponse:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.content = b"x" if body is not None else b""
        self.reason = "OK"

    def json(self):
        return self._body


class PagingSession:
    """Serves networks two per page with Neutron's next links."""

    def __init__(self):
        self.urls = []

    def request(self, url, method, **kwargs):
        self.urls.append((method, url, kwargs.get("params")))
        if url.endswith("/v2.0/networks"):
            return FakeResponse(200, {"networks": [{"id": "a"}, {"id": "b"}], "networks_links": [
                {"rel": "next", "href": "http://h:9696/v2.0/networks?limit=2&marker=b"}]})
        if url.endswith("marker=b"):
            return FakeResponse(200, {"networks": [{"id": "c"}], "networks_links": [
                {"rel": "previous", "href": "http://h:9696/v2.0/networks?marker=c"}]})
        if method == "POST":
            return FakeResponse(201, None)
        return FakeResponse(404, {"NeutronError": {"type": "NetworkNotFound",
                                                   "message": "Network q could not be found.",
                                                   "detail": ""}})


def test_lists_follow_next_links_and_errors_raise():
    import pytest

    from neutrino.cli.client import NetworkClient
    from neutrino.cli.errors import NeutronClientError

    session = PagingSession()
    client = NetworkClient(session, endpoint_override="http://h:9696/")
    assert [n["id"] for n in client.list("networks", [("fields", "id")])] == ["a", "b", "c"]
    assert session.urls[0] == ("GET", "http://h:9696/v2.0/networks", [("fields", "id")])
    assert session.urls[1] == ("GET", "http://h:9696/v2.0/networks?limit=2&marker=b", None)
    client.add_network_to_dhcp_agent("ag", "net")  # 201 with an empty (null) body
    assert session.urls[-1][:2] == ("POST", "http://h:9696/v2.0/agents/ag/dhcp-networks")
    with pytest.raises(NeutronClientError, match="Network q could not be found.") as exc:
        client.show("network", "networks", "q")
    assert exc.value.status_code == 404


def test_bare_message_drops_what_keystoneauth_appends():
    from neutrino.cli.client import bare_message

    assert bare_message("The request you have made requires authentication. (HTTP 401) "
                        "(Request-ID: req-00ee6b37)") == (
        "The request you have made requires authentication.")
    assert bare_message("Unauthorized (HTTP 401)") == "Unauthorized"
    assert bare_message("plain") == "plain"


class RaisingSession:
    def __init__(self, exc):
        self.exc = exc

    def get_endpoint(self, **kwargs):
        raise self.exc

    def request(self, *args, **kwargs):
        raise self.exc


def test_keystoneauth_failures_become_one_line_cli_errors():
    import pytest
    from keystoneauth1 import exceptions as ks_exc

    from neutrino.cli.client import NetworkClient
    from neutrino.cli.errors import CliError

    cases = [
        (ks_exc.ConnectFailure("Unable to establish connection to http://h:5000/v3/auth/tokens:"
                               " ... [Errno 111] Connection refused'))"),
         "Unable to establish connection to http://h:5000/v3/auth/tokens: Connection refused"),
        (ks_exc.Unauthorized(message="The request you have made requires authentication.",
                             http_status=401),
         "Authentication failed: The request you have made requires authentication. (HTTP 401)"),
        (ks_exc.EndpointNotFound("no network"),
         "No network endpoint in the service catalog: no network"),
        (ks_exc.ClientException(""), "ClientException"),
    ]
    for exc, message in cases:
        with pytest.raises(CliError) as caught:
            NetworkClient(RaisingSession(exc)).list("networks")
        assert str(caught.value) == message
