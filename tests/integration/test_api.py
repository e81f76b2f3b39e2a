"""The JSON API over a real store and supervisor, through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from roost.control.auth import Authenticator
from roost.control.directory import Actor, DirectoryAdmin
from roost.control.intake import Envelope, Intake
from roost.control.passwords import Passwords
from roost.control.queue_admin import QueueAdmin
from roost.core.clock import ManualClock
from roost.core.config import Config
from roost.store.store import Store
from roost.store.types import NewRecipient
from roost.supervisor.supervisor import Supervisor
from roost.web.app import create_app
from roost.web.context import WebContext
from tests.conftest import make_config
from tests.helpers import TestService

CLI_TOKEN = "local-cli-token-for-tests"


@pytest.fixture
def config(tmp_path) -> Config:  # type: ignore[no-untyped-def]
    return make_config(tmp_path)


@pytest.fixture
async def api(
    sqlite_store: Store, config: Config, clock: ManualClock
) -> AsyncIterator[dict[str, Any]]:
    passwords = Passwords(config.directory)
    auth = Authenticator(sqlite_store, passwords, config.auth, config.directory, clock)
    directory = DirectoryAdmin(sqlite_store, passwords, config.directory, auth)
    await directory.add_admin(Actor("test"), "root", "root-password-1")
    _, secret = await directory.add_token(Actor("test"), "root", "ci")
    service = TestService("smtp", "SMTP")
    supervisor = Supervisor([service], sqlite_store, config.supervisor, clock, "node1")
    await supervisor.boot()
    intake = Intake(sqlite_store, config.spool, clock)
    queue = QueueAdmin(sqlite_store, intake)
    context = WebContext(
        config, sqlite_store, supervisor, directory, queue, intake.stats, CLI_TOKEN
    )
    app = create_app(context)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://roost.test") as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        yield {
            "client": client,
            "store": sqlite_store,
            "service": service,
            "supervisor": supervisor,
            "intake": intake,
        }
    await supervisor.shutdown()


async def test_tokens_are_required(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer roost_nope"},
        {"Authorization": "Basic x"},
    ):
        response = await client.get("/api/v1/services", headers=headers)
        assert response.status_code == 401 and "error" in response.json()
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_services_start_stop_with_actor(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    listed = (await client.get("/api/v1/services")).json()
    assert listed[0]["name"] == "smtp" and listed[0]["state"] == "running"
    assert listed[0]["listeners"] == ["127.0.0.1:0"]
    stopped = await client.post("/api/v1/services/SMTP/stop")
    assert stopped.status_code == 200 and stopped.json()[0]["state"] == "stopped"
    assert (await client.get("/healthz")).status_code == 200  # stopped on purpose: still ready
    both = await client.post("/api/v1/services/start", json={"names": ["smtp"]})
    assert both.json()[0]["state"] == "running"
    unknown = await client.post("/api/v1/services/gopher/stop")
    assert unknown.status_code == 404 and "services: smtp" in unknown.json()["error"]
    events = (
        await client.get("/api/v1/events", params={"object": "service:smtp", "limit": 4})
    ).json()
    assert events[0]["actor"] == "admin:root (token ci)"
    assert events[0]["source_address"] == "192.0.2.10"
    assert [e["new_state"] for e in events] == ["running", "starting", "stopped", "stopping"]


async def test_healthz_and_metrics(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    health = await client.get("/healthz", headers={"Authorization": ""})
    assert health.json() == {"live": True, "ready": True, "not_running": [], "node": "node1"}
    api["service"].fail_start = "port in use"
    await api["supervisor"].restart("smtp", "test")
    health = await client.get("/healthz")
    assert health.status_code == 503 and health.json()["not_running"] == ["smtp"]
    metrics = (await client.get("/metrics")).text
    assert 'roost_service_up{service="smtp"} 0.0' in metrics
    assert 'roost_service_state{service="smtp",state="failed"} 1.0' in metrics


async def test_directory_through_the_api(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    assert (await client.post("/api/v1/domains", json={"name": "Example.org"})).status_code == 201
    assert (await client.post("/api/v1/domains", json={"name": "example.org"})).status_code == 409
    assert (await client.post("/api/v1/domains", json={"name": ""})).status_code == 400
    assert (await client.post("/api/v1/domains", content=b"not json")).status_code == 400
    created = await client.post(
        "/api/v1/accounts", json={"address": "bob@example.org", "quota_mb": 10}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["address"] == "bob@example.org" and body["quota_bytes"] == 10 * 1024 * 1024
    assert len(body["generated_password"]) >= 16
    assert (await client.post("/api/v1/accounts/bob@example.org/disable")).json()[
        "enabled"
    ] is False
    assert (await client.post("/api/v1/accounts/bob@example.org/enable")).json()["enabled"] is True
    changed = await client.post(
        "/api/v1/accounts/bob@example.org/password", json={"password": "a-new-password"}
    )
    assert changed.json() == {"changed": True}
    alias = await client.post(
        "/api/v1/aliases", json={"address": "sales@example.org", "targets": ["bob@example.org"]}
    )
    assert alias.status_code == 201
    aliases = {a["address"] for a in (await client.get("/api/v1/aliases")).json()}
    assert aliases == {"sales@example.org", "postmaster@example.org", "abuse@example.org"}
    assert (await client.delete("/api/v1/aliases/postmaster@example.org")).status_code == 400
    assert (
        await client.post(
            "/api/v1/domain-aliases", json={"name": "example.com", "domain": "example.org"}
        )
    ).status_code == 201
    assert (await client.get("/api/v1/accounts/nobody@example.org")).status_code == 404
    assert (await client.delete("/api/v1/accounts/bob@example.org")).status_code == 200
    assert (await client.get("/api/v1/accounts")).json() == []
    # The aliases that pointed only at bob went with him.
    assert {a["address"] for a in (await client.get("/api/v1/aliases")).json()} == set()
    events = (await client.get("/api/v1/events", params={"limit": 50})).json()
    actions = [(e["object"], e["action"]) for e in events if e["actor"] == "admin:root (token ci)"]
    assert ("user:bob@example.org", "remove") in actions and (
        "domain:example.org",
        "add",
    ) in actions


async def test_admins_and_tokens_through_the_api(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    made = (await client.post("/api/v1/tokens", json={"admin": "root", "name": "deploy"})).json()
    assert made["token"].startswith("roost_")
    other = await client.get(
        "/api/v1/services", headers={"Authorization": f"Bearer {made['token']}"}
    )
    assert other.status_code == 200
    assert (await client.delete("/api/v1/tokens/root/deploy")).status_code == 200
    revoked = await client.get(
        "/api/v1/services", headers={"Authorization": f"Bearer {made['token']}"}
    )
    assert revoked.status_code == 401
    added = (await client.post("/api/v1/admins", json={"name": "ops"})).json()
    assert added["must_change_password"] is True and added["generated_password"]
    assert (await client.delete("/api/v1/admins/ops")).status_code == 200
    last = await client.delete("/api/v1/admins/root")
    assert last.status_code == 400 and "last admin" in last.json()["error"]


async def test_cli_token_names_the_os_user(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    headers = {"Authorization": f"Bearer {CLI_TOKEN}", "X-Roost-User": "alice"}
    assert (
        await client.post("/api/v1/domains", json={"name": "cli.example"}, headers=headers)
    ).status_code == 201
    events = (await client.get("/api/v1/events", params={"object": "domain:cli.example"})).json()
    assert events[0]["actor"] == "cli:alice"
    weird = {"Authorization": f"Bearer {CLI_TOKEN}", "X-Roost-User": "x y; DROP"}
    await client.delete("/api/v1/domains/cli.example", headers=weird)
    events = (await client.get("/api/v1/events", params={"object": "domain:cli.example"})).json()
    assert events[0]["actor"] == "cli:unknown"


async def test_queue_list_show_actions_and_stats(api: dict[str, Any]) -> None:
    client: httpx.AsyncClient = api["client"]
    intake: Intake = api["intake"]
    for i in range(5):
        recipients = (NewRecipient(f"r{i}@dest{i % 2}.example"),)
        await intake.accept_bytes(
            b"Subject: x\r\n\r\nx\r\n", Envelope(f"s{i}@example.net", recipients, "smtp")
        )
    listed = (
        await client.get("/api/v1/queue", params={"domain": "dest1.example", "limit": 1})
    ).json()
    assert listed["total"] == 2 and len(listed["entries"]) == 1
    entry = listed["entries"][0]
    assert entry["recipients_total"] == 1 and entry["recipients_delivered"] == 0
    assert entry["recipients"][0]["state"] == "pending"
    shown = (await client.get(f"/api/v1/queue/{entry['id']}")).json()
    assert shown["sender"] == entry["sender"]
    held = await client.post(f"/api/v1/queue/{entry['id']}/hold")
    assert held.status_code == 200
    assert (await client.get("/api/v1/queue", params={"state": "held"})).json()["total"] == 1
    assert (await client.get("/api/v1/queue", params={"state": "bogus"})).status_code == 400
    both = await client.post("/api/v1/queue/release", json={"ids": [entry["id"]]})
    assert both.json() == {"action": "release", "ids": [entry["id"]]}
    assert (await client.post(f"/api/v1/queue/{entry['id']}/explode")).status_code == 404
    assert (await client.post("/api/v1/queue/999999/delete")).status_code == 404
    assert (await client.post(f"/api/v1/queue/{entry['id']}/delete")).status_code == 200
    stats = (await client.get("/api/v1/queue/stats")).json()
    assert stats["queue"]["queued"] == 4
    assert stats["traffic"]["received"] == {
        "last_5_minutes": 5,
        "last_24_hours": 5,
        "since_start": 5,
    }
    events = (await client.get("/api/v1/events", params={"object": f"queue:{entry['id']}"})).json()
    assert [e["action"] for e in events] == ["delete", "release", "hold"]
