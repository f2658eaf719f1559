"""Leader election: the pure decisions, the write guard, and renewals against a real HTTP server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hatchet_operator import leader


def test_renew_own_lease() -> None:
    assert leader.decide({"holderIdentity": "me", "leaseDurationSeconds": 15}, "me", 0, 100) == leader.Decision(True)


def test_take_a_free_lease() -> None:
    assert leader.decide({}, "me", 0, 0) == leader.Decision(True, transition=True)
    assert leader.decide({"holderIdentity": ""}, "me", 0, 0).transition


def test_wait_while_the_holder_renews() -> None:
    spec = {"holderIdentity": "other", "leaseDurationSeconds": 15}
    assert leader.decide(spec, "me", record_changed_at=100, now=110) == leader.Decision(False)


def test_take_over_an_expired_lease() -> None:
    spec = {"holderIdentity": "other", "leaseDurationSeconds": 15}
    assert leader.decide(spec, "me", record_changed_at=100, now=115) == leader.Decision(True, transition=True)


def test_micro_time_format() -> None:
    import datetime

    t = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    assert leader.micro_time(t) == "2026-01-02T03:04:05.000006Z"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _elector(clock: _Clock) -> leader.LeaderElector:
    from hatchet_operator.metrics import Metrics
    from hatchet_operator.settings import LeaderElection

    return leader.LeaderElector(
        None,
        LeaderElection(identity="me"),
        Metrics(),
        watch_stale_seconds=30,  # type: ignore[arg-type]
        clock=clock,
    )


def test_watch_heartbeat_detects_a_stuck_watch() -> None:
    clock = _Clock()
    e = _elector(clock)
    e.is_leader = True
    e._wrote({"metadata": {"resourceVersion": "10"}, "spec": {}}, clock.now)
    clock.now += 5
    assert e.watch_heartbeat_age() == 5 and not e.watch_stuck()
    e.saw(10)  # the renewal came back through the watch
    assert e.watch_heartbeat_age() == 0
    e._wrote({"metadata": {"resourceVersion": "11"}, "spec": {}}, clock.now)
    e._wrote({"metadata": {"resourceVersion": "12"}, "spec": {}}, clock.now + 2)
    clock.now += 31
    assert e.watch_stuck()  # renewals keep succeeding but the watch shows none of them
    e.saw(12)
    assert not e.watch_stuck()


def test_a_standby_is_never_stuck() -> None:
    clock = _Clock()
    e = _elector(clock)
    e._wrote({"metadata": {"resourceVersion": "10"}, "spec": {}}, clock.now)
    clock.now += 1000
    assert not e.watch_stuck()


# ---- the renew deadline (pure) -------------------------------------------------------------------


def test_renew_budget_counts_from_the_start_of_the_last_successful_round() -> None:
    assert leader.renew_budget(now=105, last_renew=100, renew_deadline=10) == 5
    assert leader.renew_budget(now=110, last_renew=100, renew_deadline=10) == 0
    assert leader.renew_budget(now=111, last_renew=100, renew_deadline=10) < 0


def test_next_wait_never_sleeps_past_the_deadline() -> None:
    assert leader.next_wait(budget=8, retry_period=2) == 2
    assert leader.next_wait(budget=0.5, retry_period=2) == 0.5
    assert leader.next_wait(budget=-3, retry_period=2) == 0


def test_timing_must_leave_a_margin_between_deadline_and_lease() -> None:
    from hatchet_operator.settings import LeaderElection

    assert leader.check_timing(LeaderElection()) == []
    assert leader.check_timing(LeaderElection(lease_duration=6, renew_deadline=3, retry_period=1)) == []
    assert len(leader.check_timing(LeaderElection(lease_duration=10, renew_deadline=10, retry_period=2))) == 1
    assert len(leader.check_timing(LeaderElection(lease_duration=15, renew_deadline=2, retry_period=2))) == 1
    assert len(leader.check_timing(LeaderElection(lease_duration=5, renew_deadline=10, retry_period=0))) == 2


def test_may_write_only_as_leader_within_the_deadline() -> None:
    clock = _Clock()
    e = _elector(clock)  # renew deadline 10 (the default)
    e._wrote({"metadata": {"resourceVersion": "10"}, "spec": {}}, clock.now)
    assert not e.may_write() and e.budget() == 0  # written, but not (yet) leader
    e.is_leader = True
    clock.now += 9.5
    assert e.may_write() and e.budget() == 0.5
    clock.now += 0.5
    assert not e.may_write()  # the deadline passed without a renewal: no more writes
    e._wrote({"metadata": {"resourceVersion": "11"}, "spec": {}}, clock.now)
    assert e.may_write()


def test_a_standby_may_take_the_lease_only_after_the_leader_stopped_writing() -> None:
    """With valid timing, the first moment a standby may take over (lease duration after it saw a
    renewal) is later than the last moment the leader's guard lets a write out (renew deadline
    after the start of that renewal, which is no later than when the standby saw it)."""
    from hatchet_operator.settings import LeaderElection

    for duration, deadline, retry in ((15, 10, 2), (6, 3, 1), (4, 3, 1)):
        cfg = LeaderElection(lease_duration=duration, renew_deadline=deadline, retry_period=retry)
        assert leader.check_timing(cfg) == []
        renewal_started = seen_by_standby = 100.0
        ticks = [100 + t / 100 for t in range(0, 3000)]
        lease = {"holderIdentity": "leader", "leaseDurationSeconds": duration}
        takeover = min(t for t in ticks if leader.decide(lease, "standby", seen_by_standby, t).write)
        last_write = max(t for t in ticks if leader.renew_budget(t, renewal_started, deadline) > 0)
        assert last_write < takeover
        assert takeover - last_write >= duration - deadline - 0.01  # the margin for latency in flight


def test_guarded_client_refuses_writes_before_sending() -> None:
    import asyncio

    from hatchet_operator.kube import Client

    def login() -> Any:
        raise AssertionError("a refused write must not even open a connection")

    async def main() -> None:
        allowed = False
        c = leader.GuardedClient(login, user_agent="t", allow=lambda: allowed)
        with pytest.raises(leader.NotLeader):
            await c.request("PATCH", "/x", body={})
        allowed = True
        c.budget = lambda: 0.0  # leader, but the deadline has passed
        with pytest.raises(leader.NotLeader):
            await c.apply("/x", {}, "m", "deployments")
        assert c.in_flight == 0 and await c.drained(0)
        assert isinstance(c, Client)

    asyncio.run(main())


# ---- against a real HTTP server that can hang ------------------------------------------------------


class _LeaseServer:
    """A minimal Lease endpoint (GET/PUT/POST on one Lease) on 127.0.0.1 that can be made to hang."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0
        self.hang = False
        self.delay = 0.0
        self.writes_seen = 0
        self.released = asyncio.Event()

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        if request.method != "GET":
            self.writes_seen += 1
        await asyncio.sleep(self.delay)
        if self.hang:
            await self.released.wait()
            raise ConnectionResetError("the test is over")
        if request.method == "GET":
            if self.lease is None or "/leases/" not in request.path:
                return web.json_response({"reason": "NotFound"}, status=404)
            return web.json_response(self.lease)
        body = await request.json()
        self.rv += 1
        body["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = body
        return web.json_response(body)

    async def _release(self) -> None:
        self.released.set()

    async def start(self) -> str:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_shutdown.append(lambda _: self._release())
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"


def _real_elector(server: str, **timing: float) -> tuple[leader.LeaderElector, Any]:
    import kopf

    from hatchet_operator.kube import Client
    from hatchet_operator.metrics import Metrics
    from hatchet_operator.settings import LeaderElection

    cfg = LeaderElection(identity="me", **timing)  # type: ignore[arg-type]
    # The request timeout is far beyond the deadline: only the deadline can end a hung renewal.
    client = Client(lambda: kopf.ConnectionInfo(server=server), user_agent="t", timeout=300)
    return leader.LeaderElector(client, cfg, Metrics()), client


def test_a_hung_renewal_ends_leadership_at_the_deadline_not_the_request_timeout() -> None:
    async def main() -> None:
        srv = _LeaseServer()
        url = await srv.start()
        e, client = _real_elector(url, lease_duration=3, renew_deadline=1.5, retry_period=0.2)
        try:
            await asyncio.wait_for(e.acquire(), 10)
            assert e.is_leader and e.may_write()
            hold = asyncio.create_task(e.hold())
            await asyncio.sleep(0.5)
            assert not hold.done() and e.may_write()  # renewing fine
            srv.hang = True
            why = await asyncio.wait_for(hold, 20)  # far less than the 300 s request timeout
            assert "deadline" in why
            assert not e.is_leader and not e.may_write()
        finally:
            await client.close()
            await srv.runner.cleanup()

    asyncio.run(main())


def test_a_leader_that_finds_another_holder_stops_at_once() -> None:
    async def main() -> None:
        srv = _LeaseServer()
        url = await srv.start()
        e, client = _real_elector(url, lease_duration=30, renew_deadline=20, retry_period=0.2)
        try:
            await asyncio.wait_for(e.acquire(), 10)
            hold = asyncio.create_task(e.hold())
            assert srv.lease is not None
            srv.lease["spec"]["holderIdentity"] = "someone-else"
            srv.rv += 1
            srv.lease["metadata"]["resourceVersion"] = str(srv.rv)
            why = await asyncio.wait_for(hold, 10)
            assert "another replica" in why and not e.may_write()
            # The leader did not try to take it back.
            assert srv.lease["spec"]["holderIdentity"] == "someone-else"
        finally:
            await client.close()
            await srv.runner.cleanup()

    asyncio.run(main())


def test_a_cleared_lease_is_a_loss_for_the_leader_not_a_renewal() -> None:
    async def main() -> None:
        srv = _LeaseServer()
        url = await srv.start()
        e, client = _real_elector(url, lease_duration=30, renew_deadline=20, retry_period=0.2)
        try:
            await asyncio.wait_for(e.acquire(), 10)
            hold = asyncio.create_task(e.hold())
            assert srv.lease is not None
            srv.lease["spec"]["holderIdentity"] = None  # released by someone: another may have led since
            srv.rv += 1
            srv.lease["metadata"]["resourceVersion"] = str(srv.rv)
            why = await asyncio.wait_for(hold, 10)
            assert why and srv.lease["spec"]["holderIdentity"] is None
        finally:
            await client.close()
            await srv.runner.cleanup()

    asyncio.run(main())


def test_a_write_hanging_past_the_deadline_is_cancelled() -> None:
    async def main() -> None:
        srv = _LeaseServer()
        url = await srv.start()
        import kopf

        loop = asyncio.get_running_loop()
        deadline = [loop.time() + 0.5]  # as the elector's: moved on by each successful renewal

        c = leader.GuardedClient(
            lambda: kopf.ConnectionInfo(server=url),
            user_agent="t",
            timeout=300,
            allow=lambda: True,
            budget=lambda: max(0.0, deadline[0] - loop.time()),
        )

        async def renewals(n: int) -> None:
            for _ in range(n):
                await asyncio.sleep(0.2)
                deadline[0] = loop.time() + 0.5

        try:
            await c.request("PUT", "/x", body={"metadata": {}})
            assert c.unsettled_at is None, "an answered write has a known outcome"
            # A slow answer under a leader that keeps renewing is awaited past the first deadline.
            srv.delay = 1.5
            renewing = asyncio.create_task(renewals(10))
            assert await c.request("PUT", "/x", body={"metadata": {}}) is not None
            await renewing
            assert c.unsettled_at is None
            srv.delay, srv.hang = 0.0, True
            deadline[0] = loop.time() + 0.5
            started = loop.time()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(c.request("PUT", "/x", body={"metadata": {}}), 20)
            # Ended by the renew deadline (no renewals now), far before the outer 20 s.
            assert loop.time() - started < 10
            assert c.in_flight == 0 and await c.drained(0)
            # Given up on without an answer: it may still land, and the stop sequence must know.
            assert c.unsettled_at is not None
        finally:
            await c.close()
            await srv.runner.cleanup()

    asyncio.run(main())
