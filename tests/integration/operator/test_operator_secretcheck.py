"""Referenced Secrets are checked by GET of each named Secret, with only `get` on secrets: no
list/watch, no unrelated Secret body ever read, key names only, a missing Secret re-checked."""

from __future__ import annotations

import asyncio

import kopf
import pytest

from harness.kube import ControlPlane
from hatchet_operator import secretcheck
from hatchet_operator.kube import Client
from hatchet_operator.secretcheck import SecretChecker


@pytest.fixture
def getter(kube: ControlPlane, namespace: str) -> Client:
    """A client whose ServiceAccount may only `get` Secrets in the namespace."""
    kube.kubectl("create", "serviceaccount", "checker", "-n", namespace)
    kube.kubectl("create", "role", "secret-get", "-n", namespace, "--verb=get", "--resource=secrets")
    kube.kubectl(
        "create",
        "rolebinding",
        "secret-get",
        "-n",
        namespace,
        "--role=secret-get",
        f"--serviceaccount={namespace}:checker",
    )
    token = kube.kubectl("create", "token", "checker", "-n", namespace).stdout.strip()
    return Client(
        lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_path), token=token),
        user_agent="secretcheck-test",
    )


def test_get_per_named_secret_key_names_only_and_rechecks(
    kube: ControlPlane, namespace: str, getter: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = namespace
    assert (
        kube.kubectl(
            "auth", "can-i", "list", "secrets", "-n", ns, f"--as=system:serviceaccount:{ns}:checker", check=False
        ).stdout.strip()
        == "no"
    )
    kube.kubectl("create", "secret", "generic", "tok", "-n", ns, "--from-literal=HATCHET_CLIENT_TOKEN=s3cr3t-value")
    kube.kubectl("create", "secret", "generic", "unrelated", "-n", ns, "--from-literal=x=never-read")
    monkeypatch.setattr(secretcheck, "MISSING_TTL", 0.2)
    monkeypatch.setattr(secretcheck, "PRESENT_TTL", 0.2)
    changes: list[tuple[str, str]] = []

    async def scenario() -> SecretChecker:
        checker = SecretChecker(getter)
        try:
            # Ten concurrent first checks of the same Secret share one GET.
            await asyncio.gather(*(checker.ensure([(ns, "tok"), (ns, "absent")]) for _ in range(10)))
            assert checker.gets == 2
            assert checker.keys(ns, "tok") == frozenset({"HATCHET_CLIENT_TOKEN"})
            assert checker.keys(ns, "absent") is None and checker.known((ns, "absent"))

            async def changed(key: tuple[str, str]) -> None:
                changes.append(key)

            poll = asyncio.create_task(
                checker.poll(lambda: dict.fromkeys([(ns, "tok"), (ns, "absent")], frozenset()), changed, interval=0.1)
            )
            try:
                kube.kubectl("create", "secret", "generic", "absent", "-n", ns, "--from-literal=k=v")
                kube.kubectl("delete", "secret", "tok", "-n", ns)
                for _ in range(200):  # bounded: 20 s
                    if (ns, "absent") in changes and (ns, "tok") in changes:
                        break
                    await asyncio.sleep(0.1)
            finally:
                poll.cancel()
            return checker
        finally:
            await getter.close()

    checker = asyncio.run(scenario())
    assert (ns, "absent") in changes and (ns, "tok") in changes, changes
    assert checker.keys(ns, "absent") == frozenset({"k"})
    assert checker.keys(ns, "tok") is None
    assert "s3cr3t" not in repr(checker.__dict__) and "c3Nj" not in repr(checker.__dict__)
    # The apiserver's own record: this client only ever asked for the named Secrets, never a list.
    user = f"system:serviceaccount:{ns}:checker"
    asked = (
        {
            (e["verb"], (e.get("objectRef") or {}).get("name"))
            for e in kube.audit_events()
            if (e.get("user") or {}).get("username") == user and (e.get("objectRef") or {}).get("resource") == "secrets"
        }
        if getattr(kube, "audit_log", None) is not None
        else None
    )
    if asked is not None:
        assert asked <= {("get", "tok"), ("get", "absent")}, asked


def test_unreadable_secret_keeps_what_was_known(kube: ControlPlane, namespace: str) -> None:
    # No RBAC at all for this token: a 403 says nothing about the Secret, so it is not reported missing.
    kube.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = kube.kubectl("create", "token", "nobody", "-n", namespace).stdout.strip()
    client = Client(
        lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_path), token=token),
        user_agent="secretcheck-test",
    )

    async def scenario() -> tuple[bool, bool]:
        checker = SecretChecker(client)
        try:
            changed = await checker.refresh((namespace, "tok"))
            return changed, checker.known((namespace, "tok"))
        finally:
            await client.close()

    assert asyncio.run(scenario()) == (False, False)
