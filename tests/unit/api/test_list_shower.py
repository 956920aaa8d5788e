"""How a list shows each item: as core made it, or a copy without what is hidden."""

from neutrino.api.controllers import _shower

NAMES = ["id", "name", "tenant_id", "binding:host_id"]


def port(**extra: object) -> dict[str, object]:
    return {"id": "p", "name": "n", "tenant_id": "t", "binding:host_id": "h", **extra}


def test_an_item_with_nothing_hidden_and_nothing_more_is_shown_as_core_made_it():
    item = port()
    assert _shower(NAMES)(item, frozenset()) is item


def test_hidden_attributes_and_attributes_not_asked_for_are_left_out_of_a_copy():
    show = _shower(["id", "name", "tenant_id"])  # binding:host_id not in the plan
    hidden = frozenset({"name"})
    items = [port(), port(id="q")]
    shown = [show(item, hidden) for item in items]
    assert shown == [{"id": "p", "tenant_id": "t"}, {"id": "q", "tenant_id": "t"}]
    assert items[0] == port(), "the item core made (perhaps shared) is left as it was"


def test_items_shaped_unlike_the_first_are_still_shown_right():
    show = _shower(NAMES)
    hidden = frozenset({"binding:host_id"})
    assert show(port(), hidden) == {"id": "p", "name": "n", "tenant_id": "t"}
    # An extra attribute the first item did not have, then one lacking the hidden one.
    assert show(port(mac="m"), hidden) == {"id": "p", "name": "n", "tenant_id": "t"}
    lacking = {"id": "r", "name": "n", "tenant_id": "t"}
    assert show(lacking, hidden) == lacking
    # Lacking an attribute that is shown: left out, as a view leaves out what is absent.
    assert show({"id": "s", "binding:host_id": "h"}, hidden) == {"id": "s"}


def test_each_hidden_set_is_decided_for_itself():
    show = _shower(NAMES)
    assert show(port(), frozenset({"name"})) == {"id": "p", "tenant_id": "t",
                                                 "binding:host_id": "h"}
    assert show(port(), frozenset({"tenant_id"})) == {"id": "p", "name": "n",
                                                      "binding:host_id": "h"}
