"""Response bodies are written by orjson, and must say exactly what json.dumps said: the
same JSON value for every body, json.dumps's own bytes where orjson would differ."""

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from neutrino.api.errors import json_response
from neutrino.api.jsonbody import Encoded, EncodedItems, EncodedList, encode_json


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


def test_encoded_items_are_written_once_per_item_and_shape():
    items = EncodedItems(size=8)
    port = dict(PORT["port"])
    calls = []

    def show(item, hidden):
        calls.append(hidden)
        return {k: v for k, v in item.items() if k not in hidden}

    whole = items.shape(("id", "name"), frozenset())
    member = items.shape(("id", "name"), frozenset({"name"}))
    assert items.shape(("id", "name"), frozenset()) is whole
    first = items.get(port, frozenset(), whole, show)
    assert items.get(port, frozenset(), whole, show) is first
    hidden = items.get(port, frozenset({"name"}), member, show)
    assert calls == [frozenset(), frozenset({"name"})]
    assert json.loads(encode_json({"ports": [first, hidden]})) == json.loads(json.dumps(
        {"ports": [port, {k: v for k, v in port.items() if k != "name"}]}))
    # An equal dict is another item: its own entry, not the first's.
    assert items.get(dict(port), frozenset(), whole, show) is not first


def test_encoded_items_forget_the_oldest_and_bound_their_shapes():
    items = EncodedItems(size=8)
    kept = [{"id": str(i)} for i in range(20)]  # alive, so no id is reused
    shape = items.shape(("id",), frozenset())
    for item in kept:
        items.get(item, frozenset(), shape, lambda item, hidden: item)
    assert len(items) <= 8
    tokens = {items.shape((f"f{i}",), frozenset()) for i in range(EncodedItems.MAX_SHAPES * 2)}
    assert len(items._shapes) <= EncodedItems.MAX_SHAPES
    assert len(tokens) == EncodedItems.MAX_SHAPES * 2


def test_an_item_orjson_would_write_otherwise_is_not_encoded_and_the_body_is_json_dumps():
    items = EncodedItems(size=8)
    shape = items.shape(("p",), frozenset())
    odd = {"p": {"x": math.inf}}
    assert items.get(odd, frozenset(), shape, lambda item, hidden: item) is odd
    plain = items.get({"p": "é"}, frozenset(), shape, lambda item, hidden: item)
    assert isinstance(plain, Encoded)
    body = {"ports": [plain, odd]}
    assert encode_json(body) == json.dumps({"ports": [{"p": "é"}, odd]}).encode()


def test_a_list_of_kept_json_is_written_as_it_was_and_not_looked_through_again():
    items = EncodedItems(size=8)
    shape = items.shape(("id", "name"), frozenset())
    ports = [{"id": str(n), "name": "é" * n} for n in range(3)]
    kept = EncodedList(items.get(p, frozenset(), shape, lambda item, hidden: item)
                       for p in ports)
    links = [{"href": "http://x/v2.0/ports?marker=2", "rel": "next"}]
    body = {"ports": kept, "ports_links": links}
    assert encode_json(body) == json.dumps({"ports": ports, "ports_links": links},
                                           ensure_ascii=False, separators=(",", ":")).encode()
    # What is outside the kept JSON is still looked through: a null there (a NaN the
    # wrapper holds) is json.dumps's to write.
    odd = {"ports": kept, "ratio": math.nan}
    assert encode_json(odd) == json.dumps({"ports": ports, "ratio": math.nan}).encode()
    # The kept JSON itself is not: had an item held "null" (it cannot: such an item is
    # never kept), the body would still be orjson's.
    sneaky = EncodedList([Encoded(b'{"id":null}')])
    assert encode_json({"ports": sneaky}) == b'{"ports":[{"id":null}]}'
    assert encode_json({"ports": EncodedList()}) == b'{"ports":[]}'
