"""The demo's parsing, its step runner and its summary (no lab: steps are replaced)."""

import io

from neutrino.lab.demo import Demo, StepFailed, StepResult, summary, table_dicts

AGENT_LIST = """\
+--------------------------------------+--------------------+-------+-------+----------------+
| id                                   | agent_type         | host  | alive | admin_state_up |
+--------------------------------------+--------------------+-------+-------+----------------+
| 1b69828d-6a9b-4826-87cd-1757f0e27f31 | Linux bridge agent | HostA | :-)   | True           |
| a0c1c21c-d4f4-4577-9ec7-908f2d48622d | DHCP agent         | HostA | xxx   | False          |
+--------------------------------------+--------------------+-------+-------+----------------+
"""


def test_table_dicts_reads_the_cli_tables():
    rows = table_dicts(AGENT_LIST)
    assert rows[1] == {"id": "a0c1c21c-d4f4-4577-9ec7-908f2d48622d", "agent_type": "DHCP agent",
                       "host": "HostA", "alive": "xxx", "admin_state_up": "False"}
    assert table_dicts("Added network net2 to dhcp agent\n") == []


class _Lab:
    pass


def test_run_stops_at_the_first_failure_and_reports_the_rest_as_not_run():
    out = io.StringIO()
    demo = Demo(_Lab(), out=out)
    calls = []

    def ok():
        calls.append("ok")

    def bad():
        calls.append("bad")
        raise StepFailed("net2 is hosted by 0 agents")

    def never():
        calls.append("never")

    demo.steps = lambda: [("one", ok), ("two", bad), ("three", never)]
    results = demo.run()
    assert calls == ["ok", "bad"]
    assert [r.ok for r in results] == [True, False, None]
    assert "net2 is hosted by 0 agents" in results[1].error
    assert "!! FAILED: net2 is hosted by 0 agents" in out.getvalue()
    text = summary(results, 12.5)
    assert "1 passed, 1 failed, 1 not run in 12.5s" in text
    assert " 2. FAIL" in text and " 3. skip" in text


def test_summary_of_a_clean_run():
    text = summary([StepResult("a", True, 1.0), StepResult("b", True, 2.0)], 3.0)
    assert text.endswith("2 passed, 0 failed, 0 not run in 3.0s")


def test_step_mode_pauses_between_steps_and_gives_up_pausing_without_a_keyboard(monkeypatch):
    prompts = []

    def fake_input(prompt):
        prompts.append(prompt)
        if len(prompts) == 2:
            raise EOFError
        return ""
    monkeypatch.setattr("builtins.input", fake_input)
    demo = Demo(_Lab(), out=io.StringIO(), step=True)
    demo.steps = lambda: [("one", lambda: None), ("two", lambda: None), ("three", lambda: None)]
    results = demo.run()
    assert [r.ok for r in results] == [True, True, True]
    assert len(prompts) == 2  # after one, after two (EOF), then no more pauses
