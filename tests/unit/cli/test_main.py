import sys
import types

from neutrino.cli import main as cli_main


def fake_lab(monkeypatch, result=0):
    calls = []
    module = types.ModuleType("neutrino.lab.cli")
    module.main = lambda argv: calls.append(argv) or result
    monkeypatch.setitem(sys.modules, "neutrino.lab.cli", module)
    return calls


def test_demo_and_lab_go_to_the_lab_with_their_word(monkeypatch):
    calls = fake_lab(monkeypatch, result=3)
    assert cli_main.main(["demo", "--keep"]) == 3
    assert cli_main.main(["lab", "up"]) == 3
    assert calls == [["demo", "--keep"], ["lab", "up"]]


def test_api_commands_do_not_reach_the_lab(monkeypatch, capsys):
    calls = fake_lab(monkeypatch)
    monkeypatch.delenv("OS_USERNAME", raising=False)
    monkeypatch.delenv("OS_AUTH_URL", raising=False)
    monkeypatch.delenv("OS_TOKEN", raising=False)
    monkeypatch.delenv("OS_URL", raising=False)
    assert cli_main.main(["net-list"]) == 1
    assert calls == []
    assert "You must provide a username" in capsys.readouterr().err
