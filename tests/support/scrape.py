"""Reading a daemon's metrics listener as Prometheus would: real HTTP, the library's parser."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def metrics_yaml(port: int) -> str:
    """The config block that turns the listener on at 127.0.0.1:port."""
    return f"metrics:\n  enabled: true\n  port: {port}\n"


def scrape(port: int) -> Samples:
    """GET /metrics, parsed: sample name → sorted label pairs → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return parse(r.read().decode())


def parse(text: str) -> Samples:
    """The text exposition format, parsed by prometheus_client's own parser."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the series is absent."""
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


def healthz(port: int) -> tuple[int, str]:
    """GET /healthz: the status code and the body."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/healthz", timeout=10
        ) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
