"""Fixtures: one sandbox server per test session and fresh workspaces per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import orjson
import pytest
import requests

from planhat_sandbox import Sandbox, Workspace

_names = itertools.count(1)

MakeWorkspace = Callable[..., Workspace]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def make_workspace(sandbox: Sandbox) -> Iterator[MakeWorkspace]:
    """Create workspaces with unique names and tokens; remove them after the test."""
    created: list[str] = []

    def make(tickets: int = 0, seed: int = 1, **options: object) -> Workspace:
        number = next(_names)
        workspace = sandbox.add_workspace(
            f"ws{number}",
            token=f"token-{number}",
            tickets=tickets,
            seed=seed,
            **options,
        )
        created.append(workspace.name)
        return workspace

    yield make
    for name in created:
        sandbox.remove_workspace(name)


@pytest.fixture(scope="session")
def shared_workspace(sandbox: Sandbox) -> Workspace:
    """A 3,000-ticket workspace that tests only read."""
    return sandbox.add_workspace("shared", token="token-shared", tickets=3_000, seed=7)


@pytest.fixture(scope="session")
def shared_tickets(shared_workspace: Workspace) -> list[dict]:
    """The tickets of ``shared_workspace`` in natural order."""
    return shared_workspace.tickets()


@pytest.fixture(scope="session")
def large_workspace(sandbox: Sandbox) -> Workspace:
    """A workspace with more tickets than one page can hold; tests only read it."""
    return sandbox.add_workspace("large", token="token-large", tickets=10_050, seed=3)


class Client:
    """A requests session for one workspace of the sandbox."""

    def __init__(self, sandbox: Sandbox, token: str | None) -> None:
        self.url = sandbox.url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str = "/tickets", **params: object) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=30)

    def tickets(self, **params: object) -> list[dict]:
        """GET /tickets, assert 200 and return the parsed page."""
        response = self.get(**params)
        assert response.status_code == 200, response.text
        return orjson.loads(response.content)

    def put(self, items: object, path: str = "/tickets") -> requests.Response:
        return self.session.put(self.url + path, json=items, timeout=30)

    def delete(self, ticket_id: str) -> requests.Response:
        return self.session.delete(f"{self.url}/tickets/{ticket_id}", timeout=30)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def client_for(
    sandbox: Sandbox,
) -> Iterator[Callable[[Workspace | str | None], Client]]:
    """Build clients that send a workspace's token (or the given token, or none)."""
    clients: list[Client] = []

    def make(workspace: Workspace | str | None) -> Client:
        token = workspace.token if isinstance(workspace, Workspace) else workspace
        client = Client(sandbox, token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
