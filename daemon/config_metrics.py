"""The configuration of the metrics and health listener (`metrics:`).

Part of the one configuration object (`daemon.config.Config`); split out only
so that each file stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tierdesk.daemon.config_transport import described


@dataclass(frozen=True)
class MetricsConfig:
    """An HTTP listener with Prometheus metrics (/metrics) and a health check (/healthz)."""

    enabled: bool = field(
        **described("serve /metrics and /healthz over HTTP"), default=False
    )
    host: str = field(
        **described(
            "address to listen on; the default keeps it on this host (0.0.0.0 opens"
            " it to every network: the figures name mailboxes and queue depths)"
        ),
        default="127.0.0.1",
    )
    port: int = field(**described("TCP port"), default=9464)
