"""A revoked or rotated token does not leave the operator's client (requests and the Deployment watch)
dead: on a 401 it logs in again (reading the credentials afresh) and retries once.

The token is a real service-account token bound to a Secret: deleting that Secret makes the real
apiserver reject it with 401, as after a rotation. The new token is written where the login reads it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import kopf
import pytest

from harness.kube import ControlPlane
from hatchet_operator.kube import ApiError, Client


def _token(kube: ControlPlane, ns: str, bound_secret: str) -> str:
    kube.kubectl("create", "secret", "generic", bound_secret, "-n", ns)
    out = kube.kubectl(
        "create", "token", "op", "-n", ns, "--bound-object-kind=Secret", f"--bound-object-name={bound_secret}"
    )
    return out.stdout.strip()


@pytest.fixture
def sa(kube: ControlPlane, namespace: str) -> str:
    kube.kubectl("create", "serviceaccount", "op", "-n", namespace)
    kube.kubectl(
        "create", "rolebinding", "op-edit", "-n", namespace, "--clusterrole=edit", f"--serviceaccount={namespace}:op"
    )
    return namespace


def test_requests_and_watches_log_in_again_after_a_401(kube: ControlPlane, sa: str, tmp_path: Path) -> None:
    ns = sa
    token_file = tmp_path / "token"
    token_file.write_text(_token(kube, ns, "bind-1"))
    logins: list[str] = []

    def login() -> kopf.ConnectionInfo:
        token = token_file.read_text()
        logins.append(token)
        return kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_path), token=token)

    cm_path = f"/api/v1/namespaces/{ns}/configmaps"

    async def watch_names(client: Client, rv: str) -> list[str]:
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "3"}
        names = []
        async for line in client.stream(cm_path, params=params, read_timeout=30):
            event = json.loads(line)
            names.append(f"{event['type']}:{event['object']['metadata']['name']}")
        return names

    async def scenario() -> dict[str, Any]:
        client = Client(login, user_agent="credentials-test")
        try:
            first = await client.request("GET", cm_path)
            rv = first["metadata"]["resourceVersion"]
            # Rotate: a new token where the login reads it, then revoke the old one.
            token_file.write_text(_token(kube, ns, "bind-2"))
            kube.kubectl("delete", "secret", "bind-1", "-n", ns, "--wait=true")
            # The old token is now refused by the apiserver itself (checked with a fresh session).
            probe = Client(
                lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_path), token=logins[0]),
                user_agent="probe",
            )
            try:
                for _ in range(50):  # the authenticator may cache a positive answer briefly
                    try:
                        await probe.request("GET", cm_path)
                    except ApiError as e:
                        if e.status == 401:
                            break
                        raise
                    await asyncio.sleep(0.2)
                else:
                    raise AssertionError("the revoked token was still accepted after 10 s")
            finally:
                await probe.close()
            kube.kubectl("create", "configmap", "after-rotation", "-n", ns)
            # A watch started with the rejected session: it must log in again and see the change.
            seen = await watch_names(client, rv)
            relogins_after_watch = client.relogins
            created = await client.request("POST", cm_path, body={"metadata": {"name": "by-client"}})
            return {"seen": seen, "relogins": relogins_after_watch, "created": created, "total": client.relogins}
        finally:
            await client.close()

    out = asyncio.run(scenario())
    assert "ADDED:after-rotation" in out["seen"], out["seen"]
    assert out["relogins"] == 1  # one login again for the watch's 401, none more for the POST
    assert out["total"] == 1
    assert out["created"]["metadata"]["name"] == "by-client"
    assert len(logins) == 2 and logins[0] != logins[1]
    # The apiserver's record: the ConfigMap the client created is there.
    kube.kubectl("get", "configmap", "by-client", "-n", ns)


def test_a_request_logs_in_again_once_and_then_reports_the_401(kube: ControlPlane, sa: str, tmp_path: Path) -> None:
    ns = sa
    token = _token(kube, ns, "bind-only")
    kube.kubectl("delete", "secret", "bind-only", "-n", ns, "--wait=true")
    logins = 0

    def login() -> kopf.ConnectionInfo:
        nonlocal logins
        logins += 1
        return kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_path), token=token)

    async def scenario() -> int:
        client = Client(login, user_agent="credentials-test")
        try:
            for _ in range(50):
                try:
                    await client.request("GET", f"/api/v1/namespaces/{ns}/configmaps")
                except ApiError as e:
                    if e.status == 401:
                        return e.status
                    raise
                await asyncio.sleep(0.2)
            return 0
        finally:
            await client.close()

    assert asyncio.run(scenario()) == 401
    # No login loop: the first login, one more for the rejected request, then the 401 is reported.
    assert logins == 2
