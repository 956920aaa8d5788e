import pytest

from neutrino.cli.errors import AmbiguousName, ResourceNotFound
from neutrino.cli.resolve import find_id, looks_like_uuid

NET_ID = "89dca1c6-c7d4-4f7a-b730-549af0fb6e34"
OTHER_ID = "9b96b14f-71b8-4918-90aa-c5d705606b1a"


class Rows:
    """A collection answering filters as the API does; records the lookups made."""

    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def __call__(self, attribute, value):
        self.calls.append((attribute, value))
        return [r for r in self.rows if r.get(attribute) == value]


def test_an_id_is_found_by_id_without_a_name_lookup():
    rows = Rows([{"id": NET_ID, "name": "net1"}])
    assert find_id("network", NET_ID, rows) == NET_ID
    assert rows.calls == [("id", NET_ID)]


def test_a_name_is_not_sent_as_an_id_filter():
    rows = Rows([{"id": NET_ID, "name": "net2"}])
    assert find_id("network", "net2", rows) == NET_ID
    assert rows.calls == [("name", "net2")]


def test_a_uuid_shaped_name_falls_back_to_the_name():
    rows = Rows([{"id": NET_ID, "name": OTHER_ID}])
    assert find_id("network", OTHER_ID, rows) == NET_ID
    assert rows.calls == [("id", OTHER_ID), ("name", OTHER_ID)]


def test_unknown_reference():
    with pytest.raises(ResourceNotFound, match="Unable to find network with name or id 'x'"):
        find_id("network", "x", Rows([{"id": NET_ID, "name": "net1"}]))


def test_ambiguous_name():
    rows = Rows([{"id": NET_ID, "name": "dup"}, {"id": OTHER_ID, "name": "dup"}])
    with pytest.raises(AmbiguousName,
                       match="Multiple network matches found for name 'dup', use an ID"):
        find_id("network", "dup", rows)


@pytest.mark.parametrize("text,expected", [
    (NET_ID, True), (NET_ID.upper(), True), ("net1", False), ("", False),
    ("89dca1c6-c7d4-4f7a-b730", False)])
def test_looks_like_uuid(text, expected):
    assert looks_like_uuid(text) is expected
