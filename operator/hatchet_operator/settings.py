"""Operator settings: one frozen object built by the CLI from flags (and a few pod env vars)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LeaderElection:
    """Lease-based leader election: one replica reconciles, the others wait."""

    enabled: bool = True
    """Off only for single-replica runs and tests (--no-leader-election)."""
    namespace: str = "default"
    """Namespace of the Lease; default: $POD_NAMESPACE, else `default` (--leader-election-namespace)."""
    name: str = "hatchet-operator"
    """Name of the coordination.k8s.io/v1 Lease (--leader-election-id)."""
    identity: str = ""
    """This replica's holderIdentity; default: $POD_NAME or hostname, plus a random suffix."""
    lease_duration: float = 15.0
    """Seconds a leader's claim lasts without renewal; a standby takes over after this (--lease-duration)."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps trying to renew before it gives up and exits (--renew-deadline)."""
    retry_period: float = 2.0
    """Seconds between renewals and between a standby's attempts (--retry-period)."""


@dataclass(frozen=True)
class OperatorSettings:
    """Everything `hatchet-operator run` needs."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces (--namespace, repeatable)."""
    metrics_port: int = 8080
    """Prometheus metrics at /metrics (--metrics-port; 0 disables)."""
    health_port: int = 8081
    """Liveness at /healthz and readiness at /readyz (--health-port; 0 disables)."""
    bind_address: str = "0.0.0.0"
    """Address the metrics and health servers listen on (--bind-address)."""
    default_image: str | None = None
    """Image for HatchetWorkers without spec.image (--default-image)."""
    check_secrets: bool = True
    """GET the named Secrets to report a missing token/CA Secret or key as Degraded (--no-secret-check: off)."""
    watch_stale_seconds: float = 60.0
    """Liveness fails when the leader's own Lease renewals have not come back through its watch this long."""
    status_delay: float = 1.0
    """Seconds over which status changes of one HatchetWorker are coalesced into one write
    (--status-coalesce-seconds; 0 writes every change at once)."""
    request_timeout: float = 30.0
    """Seconds for one API request (--request-timeout)."""
    autoscaling_interval: float = 15.0
    """Seconds between engine polls per tenant for autoscaled HatchetWorkers, 2-300 (--autoscaling-interval)."""
    leader: LeaderElection = field(default_factory=LeaderElection)
