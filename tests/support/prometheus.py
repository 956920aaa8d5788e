"""Reading a Prometheus text scrape in tests: samples keyed by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample with exactly these labels, or None."""
    return samples.get((name, frozenset(labels.items())))


def total(samples: Samples, name: str, **labels: str) -> float:
    """Summed over the series carrying `labels` (e.g. over processes)."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and set(labels.items()) <= ls)
