"""Response bodies are written by orjson, and must say exactly what json.dumps said: the
same JSON value for every body, json.dumps's own bytes where orjson would differ."""

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from neutrino.api.errors import encode_json, json_response


def same_json(body: object) -> bool:
    # Through json.loads and back, so NaN (unequal to itself) compares too.
    ours, reference = encode_json(body), json.dumps(body).encode()
    return json.dumps(json.loads(ours)) == json.dumps(json.loads(reference))


PORT = {"port": {
    "id": "5b3e1b8c-6c3e-4a43-9a3c-0b8e0e6f1a11", "name": "é€😀 \"q\" \\ \u2028", "mtu": 1500,
    "admin_state_up": True, "shared": False, "fixed_ips": [
        {"subnet_id": "s", "ip_address": "10.0.0.3"}],
    "binding:profile": {"k\u00e9": [1, True, {"z": [], "n": -0.0, "f": 1e16, "t": 5e-324}]},
    "tags": [], "revision_number": 2**63 - 1, "min": -(2**63)}}


def test_tricky_bodies_are_the_same_json():
    for body in (PORT, {"ports": [PORT["port"]] * 300}, [], {}, "x", 0, 1.5, True,
                 {"networks": [{"name": "\x00\x1f\x7f"}]}, {"a": {"b": {"c": [[[]]]}}}):
        assert same_json(body), body


def test_what_orjson_writes_otherwise_is_written_by_json_dumps():
    # orjson writes these as null (json.dumps: NaN, Infinity), refuses integers beyond 64
    # bits, lone surrogates and non-string keys: json.dumps's bytes, exactly.
    for body in ({"binding:profile": {"a": math.inf, "b": -math.inf, "c": math.nan}},
                 {"n": 2**64}, {"n": -(2**63) - 1}, {"s": "\ud800"}, {1: "a", None: "b"},
                 {"tags": [None, "null"]}):
        assert encode_json(body) == json.dumps(body).encode(), body


def test_the_fast_path_is_taken():
    # Compact and UTF-8: orjson wrote it (json.dumps would have ", " and "\u00e9").
    assert encode_json({"name": "é", "n": [1, 2]}) == '{"name":"é","n":[1,2]}'.encode()


def test_response_headers():
    response = json_response({"a": "é"}, 201, {"Retry-After": "5"})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "5"
    assert json.loads(response.body) == {"a": "é"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(min_value=-(2**70),
                                                          max_value=2**70) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner,
                                                                max_size=5),
    max_leaves=30)


@settings(max_examples=300)
@given(JSON_VALUES)
def test_any_json_value_is_the_same_json(body):
    assert same_json(body)
