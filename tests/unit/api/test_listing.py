"""Filters, sorting and pagination derived from the attribute tables."""

import pytest

from neutrino.api import listing
from neutrino.api.errors import ApiError
from neutrino.lib.attributes import AGENT, NETWORK, PORT
from neutrino.lib.exceptions import BadRequest, NetworkNotFound


def parse(resource, query, max_limit=-1):
    return listing.parse_query(resource, query, max_limit)


def test_filters_convert_and_group():
    q = parse(NETWORK, [("name", "a"), ("name", "b"), ("shared", "True"),
                        ("admin_state_up", "false"), ("tenant_id", "p")])
    assert q.filters == {"name": ["a", "b"], "shared": [True], "admin_state_up": [False],
                         "project_id": ["p"]}


def test_empty_string_filter_is_kept():
    assert parse(PORT, [("device_id", "")]).filters == {"device_id": [""]}


def test_unknown_filter_is_refused():
    with pytest.raises(ApiError) as e:
        parse(NETWORK, [("bogus", "1"), ("name", "x")])
    assert e.value.status == 400
    assert e.value.message == "['bogus'] is invalid attribute for filtering"


def test_fixed_ips_filter():
    q = parse(PORT, [("fixed_ips", "ip_address=10.0.0.5"),
                     ("fixed_ips", "ip_address_substr=10.0")])
    assert q.filters == {"fixed_ips": [{"ip_address": "10.0.0.5"},
                                       {"ip_address_substr": "10.0"}]}
    with pytest.raises(ApiError, match="Invalid input for fixed_ips"):
        parse(PORT, [("fixed_ips", "10.0.0.5")])


def test_bad_filter_value():
    from neutrino.lib.exceptions import InvalidInput
    with pytest.raises(InvalidInput):
        parse(AGENT, [("alive", "sometimes")])


@pytest.mark.parametrize("raw", ["-1", "x", "1.5"])
def test_bad_limit(raw):
    with pytest.raises(BadRequest) as e:
        parse(NETWORK, [("limit", raw)])
    assert str(e.value) == (f"Bad limit request: Limit must be an integer 0 or greater "
                            f"and not '{raw}'.")


def test_limit_and_max_limit():
    assert parse(NETWORK, [("limit", "0")]).limit is None
    assert parse(NETWORK, [("limit", "5")], max_limit=3).limit == 3
    assert parse(NETWORK, [], max_limit=3).limit == 3


def test_sorts():
    q = parse(NETWORK, [("sort_key", "name"), ("sort_dir", "desc")])
    assert q.sorts == [("name", False)]
    with pytest.raises(ApiError, match="The number of sort_keys and sort_dirs must be same"):
        parse(NETWORK, [("sort_key", "name")])
    with pytest.raises(ApiError, match=r"\['bogus'\] is invalid attribute for sort_keys"):
        parse(NETWORK, [("sort_key", "bogus"), ("sort_dir", "asc")])
    with pytest.raises(ApiError, match="is invalid attribute for sort_keys"):
        parse(NETWORK, [("sort_key", "subnets"), ("sort_dir", "asc")])
    with pytest.raises(ApiError, match="is invalid value for sort_dirs"):
        parse(NETWORK, [("sort_key", "name"), ("sort_dir", "up")])


ITEMS = [{"id": f"id{i}", "name": name} for i, name in enumerate("cbadfe")]


def test_sort_with_none_and_id_tiebreak():
    items = [{"id": "b", "name": None}, {"id": "a", "name": "x"}, {"id": "c", "name": None}]
    ordered = listing.sort_items(items, [("name", True)], "id")
    assert [i["id"] for i in ordered] == ["b", "c", "a"]
    ordered = listing.sort_items(items, [("name", False)], "id")
    assert [i["id"] for i in ordered] == ["a", "b", "c"]


def test_paging_forward_and_back():
    url = "http://h/v2.0/networks"
    params = [("limit", "2"), ("sort_key", "name"), ("sort_dir", "asc")]
    q = parse(NETWORK, params)
    page = listing.list_page(ITEMS, q, NETWORK)
    assert [i["name"] for i in page.items] == ["a", "b"]
    links = listing.links(page, q, url, params, NETWORK)
    assert [link["rel"] for link in links] == ["next"]
    assert links[0]["href"] == f"{url}?limit=2&sort_key=name&sort_dir=asc&marker=id1"

    params2 = params + [("marker", "id1")]
    q2 = parse(NETWORK, params2)
    page2 = listing.list_page(ITEMS, q2, NETWORK)
    assert [i["name"] for i in page2.items] == ["c", "d"]
    rels = [link["rel"] for link in listing.links(page2, q2, url, params2, NETWORK)]
    assert rels == ["next", "previous"]

    last = parse(NETWORK, params + [("marker", "id3")])
    page3 = listing.list_page(ITEMS, last, NETWORK)
    assert [i["name"] for i in page3.items] == ["e", "f"]
    assert [link["rel"] for link in listing.links(page3, last, url, params, NETWORK)] == [
        "previous"]

    back = parse(NETWORK, params + [("marker", "id5"), ("page_reverse", "True")])
    page4 = listing.list_page(ITEMS, back, NETWORK)
    assert [i["name"] for i in page4.items] == ["c", "d"]


def test_unknown_marker_is_not_found():
    q = parse(NETWORK, [("limit", "2"), ("marker", "nope")])
    with pytest.raises(NetworkNotFound):
        listing.list_page(ITEMS, q, NETWORK)


def test_no_links_without_limit():
    q = parse(NETWORK, [])
    page = listing.list_page(ITEMS, q, NETWORK)
    assert len(page.items) == 6
    assert listing.links(page, q, "u", [], NETWORK) == []
