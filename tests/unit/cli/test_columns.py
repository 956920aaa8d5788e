from neutrino.cli.columns import (
    AliveColumn,
    PrettyJsonColumn,
    SubnetsColumn,
    ValueColumn,
    human,
    list_rows,
    show_row,
)


def test_human_values():
    assert human(None) == ""
    assert human(True) == "True"
    assert human(["a", "b"]) == "a\nb"
    assert human([{"start": "1", "end": "2"}]) == '{"start": "1", "end": "2"}'
    assert human({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'
    assert human(1500) == "1500"


def test_pretty_json_is_sorted_and_indented():
    col = PrettyJsonColumn({"networks": 1, "dhcp_driver": "x"})
    assert col.human_readable() == '{\n     "dhcp_driver": "x",\n     "networks": 1\n}'
    assert col.machine_readable() == {"networks": 1, "dhcp_driver": "x"}


def test_alive_faces():
    assert AliveColumn(True).human_readable() == ":-)"
    assert AliveColumn(False).human_readable() == "xxx"
    assert AliveColumn(False).machine_readable() is False


def test_subnets_with_cidrs():
    col = SubnetsColumn(["s1", "s2"], {"s1": "9.0.1.0/24"})
    assert col.human_readable() == "s1 9.0.1.0/24\ns2"
    assert col.machine_readable() == ["s1 9.0.1.0/24", "s2"]


def test_show_row_sorts_fields_and_wraps_structures():
    names, values = show_row({"name": "n", "admin_state_up": True, "subnets": ["s"],
                              "description": None})
    assert names == ("admin_state_up", "description", "name", "subnets")
    assert values[0] is True and values[2] == "n"
    assert isinstance(values[1], ValueColumn) and values[1].human_readable() == ""
    assert values[3].machine_readable() == ["s"]


def test_list_rows_uses_formatters_with_the_row():
    rows = list_rows([{"id": "1", "alive": True}], ["id", "alive", "missing"],
                     {"alive": lambda v, row: f"{row['id']}:{v}"})
    assert rows[0][:2] == ("1", "1:True")
    assert rows[0][2].human_readable() == ""
