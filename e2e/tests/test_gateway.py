"""The API gateway answers as the CLI's Kong does: its routes, the Authorization it hands PostgREST
for each API key, the cors plugin, no API-key check, no body limit, and 404 where no route matches.
"""

from __future__ import annotations

import httpx
import pytest

import harness
from harness.api import CORS_METHODS, NO_ROUTE_BODY

NO_ROUTE = httpx.Response(404, content=NO_ROUTE_BODY).json()


@pytest.fixture(scope="module")
def api(stack: harness.Stack) -> harness.Stack:
    if not stack.api_url:
        pytest.skip(f"the {stack.kind} stack serves no HTTP API")
    return stack


def test_rest_route_strips_its_prefix_and_passes_postgrests_answer_on(api) -> None:
    """/rest/v1/<table> reaches PostgREST as /<table>; its Server header and errors come back."""
    response = httpx.get(f"{api.rest_url}/activities", headers={"apikey": api.anon_key})
    assert (response.status_code, response.json()["code"]) == (401, "42501")
    assert response.headers["server"].startswith("postgrest/")


@pytest.mark.parametrize("path", ["/nowhere", "/rest/v1", "/rest/v2/activities", "/graphql/v2"])
def test_paths_no_route_matches_get_kongs_404(api, path: str) -> None:
    """A path no route matches (also /rest/v1 without its slash) gets Kong's 404 message."""
    response = httpx.get(api.api_url + path, headers={"apikey": api.anon_key})
    assert (response.status_code, response.json()) == (404, NO_ROUTE)


def test_auth_route_is_absent_where_no_auth_server_runs(api) -> None:
    """Without an auth server, /auth/v1/ is a path no route matches."""
    if api.auth_server:
        pytest.skip("this stack runs the auth server behind /auth/v1/")
    response = httpx.get(f"{api.api_url}/auth/v1/health")
    assert (response.status_code, response.json()) == (404, NO_ROUTE)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"apikey": "secret"}, 200),  # the secret key becomes the service role's token
        ({"apikey": "publishable"}, 401),  # the publishable key becomes the anon key
        (
            {"apikey": "secret", "Authorization": "Bearer sb_publishable"},
            200,
        ),  # `Bearer sb_` dropped
        ({"apikey": "publishable", "Authorization": "Bearer service_role"}, 200),  # a JWT is kept
        ({}, 401),  # no key at all: anon, refused by PostgREST, not by the gateway
        ({"apikey": "not-a-key-of-this-stack"}, 401),  # passed on as it is: anon too
    ],
    ids=["secret key", "publishable key", "sb_ bearer", "jwt bearer", "no key", "unknown key"],
)
def test_api_keys_become_the_authorization_kong_gives_postgrest(api, headers, status) -> None:
    """The request-transformer's rule: the role PostgREST runs a read of activity_types as (only
    service_role and signed-in users may read it), and no API-key check of the gateway's own."""
    values = {"secret": api.secret_key, "publishable": api.publishable_key,
              "service_role": api.service_role_key}  # fmt: skip
    sent = {k: " ".join(values.get(w, w) for w in v.split(" ")) for k, v in headers.items()}
    response = httpx.get(f"{api.rest_url}/activity_types?select=id", headers=sent)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["code"] == "42501", "refused by the gateway, not by PostgREST"


def test_cors_preflight_is_answered_by_the_gateway(api) -> None:
    """OPTIONS with Origin and Access-Control-Request-Method: 200 from the cors plugin, any origin,
    the requested headers, every method."""
    response = httpx.options(
        f"{api.rest_url}/activities",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "apikey,authorization,content-type"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == CORS_METHODS
    assert response.headers["access-control-allow-headers"] == "apikey,authorization,content-type"
    assert response.content == b""


def test_every_answer_allows_any_origin(api) -> None:
    """A proxied answer, an error included, carries Access-Control-Allow-Origin: *."""
    response = httpx.get(
        f"{api.rest_url}/activities", headers={"apikey": api.anon_key, "Origin": "http://x.test"}
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_gateway_sets_no_limit_on_a_requests_body(api) -> None:
    """A 2 MiB body (nginx refuses more than 1 MiB by default) reaches PostgREST, as through Kong,
    whose default is no limit: PostgREST, not the gateway, answers."""
    body = b'{"contact_ref": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{api.rest_url}/activities",
        headers={"apikey": api.anon_key, "Content-Type": "application/json"},
        content=body,
        timeout=30,
    )
    assert response.status_code != 413
    assert response.headers["server"].startswith("postgrest/")
