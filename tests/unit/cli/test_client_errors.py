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
