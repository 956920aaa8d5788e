"""The server's processes sharing their metrics: the directory they share them in, and what a
scrape of any of them shows (in a process of its own: sharing is for the process's life)."""

import os
import socket
import subprocess
import sys
import textwrap

from support.prometheus import parse, value

from neutrino.cmd.server import metrics_directory


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_metrics_directory_is_new_and_stale_runs_of_this_host_go(tmp_path):
    host = socket.gethostname()
    base = tmp_path / "metrics"
    stale = base / f"{host}-{_dead_pid()}"
    running = base / f"{host}-{os.getppid()}"  # a live process: maybe a running server
    elsewhere = base / f"otherhost-{_dead_pid()}"  # a replica sharing state_path
    mine = base / f"{host}-{os.getpid()}"
    for directory in (stale, running, elsewhere, mine):
        directory.mkdir(parents=True)
        (directory / "counter_1.db").write_bytes(b"x")

    assert metrics_directory(str(tmp_path)) == str(mine)
    assert not stale.exists()
    assert (running / "counter_1.db").exists()
    assert (elsewhere / "counter_1.db").exists()
    assert list(mine.iterdir()) == []


SCRIPT = textwrap.dedent("""
    import os, sys
    from prometheus_client import Counter, Gauge
    from neutrino.lib import metrics

    metrics.share_between_processes(sys.argv[1])
    done = Counter("t_done", "Done.", ["process"])
    busy = Gauge("t_busy", "Busy.", ["process"], multiprocess_mode="livesum")
    done.labels(metrics.process_label()).inc(2)
    busy.labels(metrics.process_label()).set(1)
    pid = os.fork()
    if pid == 0:  # a worker: counts, then exits
        done.labels(metrics.process_label()).inc(3)
        busy.labels(metrics.process_label()).set(5)
        os._exit(0)
    os.waitpid(pid, 0)
    sys.stdout.buffer.write(b"%d\\n---\\n" % os.getpid() + metrics.exposition() + b"---\\n")
    metrics.forget_process(pid)
    sys.stdout.buffer.write(metrics.exposition())
""")


def test_a_scrape_sums_the_server_processes_and_forgets_dead_ones_gauges(tmp_path):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=True)
    pid, alive_text, after_text = run.stdout.split("---\n")
    while_alive, after = parse(alive_text), parse(after_text)
    label = {"process": f"{socket.gethostname()}:{int(pid)}"}
    for scrape in (while_alive, after):
        assert [k for k in scrape if k[0] == "t_done_total"] == [
            ("t_done_total", frozenset(label.items()))]
        assert value(scrape, "t_done_total", **label) == 5  # never backwards
    assert value(while_alive, "t_busy", **label) == 6
    assert value(after, "t_busy", **label) == 1
    # The one process's own collectors (process_*, python_*) describe no server.
    assert not any(name.startswith(("process_", "python_")) for name, _ in after)
