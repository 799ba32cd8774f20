"""Drive the broker's Management API with the official auth0-python SDK and print the findings.

Usage: REQUESTS_CA_BUNDLE=CA python3 sdk_python.py DOMAIN USER_ID

DOMAIN is the broker's host and port as the SDK takes it, e.g. localhost:3000 (HTTPS only).
USER_ID is a user that logged in through connection Cencora, e.g. oidc|Cencora|4a6f...

auth0-python 6 (requirements.txt) gets the token with GetToken.client_credentials and calls
the Management API through ManagementClient(domain=..., token=...). In 6.x,
``auth0.management.Auth0`` is the generated low-level client with keyword-only arguments
(``tenant_domain=`` or ``base_url=``, ``token=``), so the 4.x call ``Auth0(domain, token)``
no longer works.

With the demo machine-to-machine client's full grant, the script gets the user by id, lists
users with two search_engine=v3 queries, sets app_metadata.sdk_python_checked = True and reads
the user back. It then requests a token narrowed to ``read:users`` with a plain client_credentials
POST, because GetToken.client_credentials takes no scope, and gets the user again with it.

Prints one JSON line of findings and exits 0. The findings are not judged here; the caller
asserts on them. Any failed call prints the error and exits 1.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import traceback
from importlib.metadata import version
from typing import Any, Callable, NoReturn, TypeVar
from urllib.parse import urlsplit

import httpx
import requests
from auth0.authentication import GetToken
from auth0.management import ManagementClient

M2M_CLIENT_ID = "demo-m2m"
M2M_CLIENT_SECRET = "demo-m2m-secret"
CONNECTION = "Cencora"
DEMO_EMAIL = "ada@example.com"
NARROWED_SCOPE = "read:users"
UPSTREAM_TOKEN_KEYS = ("access_token", "refresh_token", "expires_in")
REQUEST_TIMEOUT_SECONDS = 30.0
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

T = TypeVar("T")


class StepError(Exception):
    """An SDK call or request that failed, named by the step that made it."""


def usage(message: str) -> NoReturn:
    print(
        f"{message}\nusage: python3 sdk_python.py DOMAIN USER_ID (e.g. localhost:3000 'oidc|Cencora|...')",
        file=sys.stderr,
    )
    sys.exit(2)


def checked_domain(domain: str) -> str:
    """Return ``domain`` after checking that it is a loopback host with an optional port."""
    try:
        parts = urlsplit(f"https://{domain}/")
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        usage(f"invalid DOMAIN {domain!r}")
    if parts.hostname not in LOOPBACK_HOSTS or parts.path != "/":
        usage(f"DOMAIN {domain!r} is not a loopback host with an optional port")
    return domain


def management_http_client() -> httpx.Client | None:
    """Build the httpx client for ManagementClient, trusting REQUESTS_CA_BUNDLE when it is set.

    GetToken sends through requests, which reads REQUESTS_CA_BUNDLE. ManagementClient sends
    through httpx, which reads SSL_CERT_FILE instead, so without this client the two would
    trust different CAs. Returns None (the SDK's default client) when the variable is unset.
    """
    bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    if not bundle:
        return None
    return httpx.Client(
        verify=ssl.create_default_context(cafile=bundle),
        timeout=REQUEST_TIMEOUT_SECONDS,
        follow_redirects=True,
    )


def step(label: str, call: Callable[[], T]) -> T:
    """Run one SDK call and name it in the error when it fails."""
    try:
        return call()
    except Exception as error:
        raise StepError(f"{label} failed: {type(error).__name__}: {error}") from error


def wire_keys(model: Any) -> dict[str, Any]:
    """Return the keys the response carried for one SDK model, under their JSON names.

    Fields absent from the response stay unset in the pydantic model, so exclude_unset keeps a
    missing key apart from a key whose value is null.
    """
    return model.model_dump(by_alias=True, exclude_unset=True)


def cencora_identity(user: Any, label: str) -> dict[str, Any]:
    for identity in user.identities or []:
        if identity.connection == CONNECTION:
            return wire_keys(identity)
    raise StepError(f"{label}: user {user.user_id} has no {CONNECTION} identity: {user.identities!r}")


def json_type(value: Any) -> str:
    """Return the JSON type name of a decoded value: string, number, boolean, null, object or array."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def upstream_token_keys(identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Report which upstream token keys an identity has and the JSON type of each value.

    ``type`` is None for an absent key, so a missing key differs from a key set to null.
    """
    return {
        key: {
            "present": key in identity,
            "type": json_type(identity[key]) if key in identity else None,
        }
        for key in UPSTREAM_TOKEN_KEYS
    }


def list_user_ids(management: ManagementClient, q: str) -> dict[str, Any]:
    pager = step(
        f"users.list(q={q}, search_engine=v3)",
        lambda: management.users.list(q=q, search_engine="v3"),
    )
    return {
        "q": q,
        "user_ids": [user.user_id for user in pager.items or []],
        "total": pager.response.total if pager.response is not None else None,
    }


def narrowed_token(domain: str, scope: str) -> dict[str, Any]:
    """Request a Management API token with only ``scope`` through a plain client_credentials POST."""
    label = f"POST /oauth/token with scope={scope}"
    response = step(
        label,
        lambda: requests.post(
            f"https://{domain}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": M2M_CLIENT_ID,
                "client_secret": M2M_CLIENT_SECRET,
                "audience": f"https://{domain}/api/v2/",
                "scope": scope,
            },
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT_SECONDS,
        ),
    )
    if response.status_code != 200:
        raise StepError(f"{label} returned HTTP {response.status_code}: {response.text}")
    grant = response.json()
    if not isinstance(grant.get("access_token"), str):
        raise StepError(f"{label} returned no access_token: {response.text}")
    return grant


def with_full_grant(domain: str, user_id: str) -> dict[str, Any]:
    get_token = GetToken(
        domain, M2M_CLIENT_ID, client_secret=M2M_CLIENT_SECRET, timeout=REQUEST_TIMEOUT_SECONDS
    )
    grant = step(
        "GetToken.client_credentials",
        lambda: get_token.client_credentials(f"https://{domain}/api/v2/"),
    )
    management = ManagementClient(
        domain=domain,
        token=grant["access_token"],
        timeout=REQUEST_TIMEOUT_SECONDS,
        httpx_client=management_http_client(),
    )

    user = step("users.get with the full grant", lambda: management.users.get(user_id))
    identity = cencora_identity(user, "users.get with the full grant")

    by_connection = list_user_ids(management, f'identities.connection:"{CONNECTION}"')
    by_email = list_user_ids(management, f'email:"{DEMO_EMAIL}"')

    updated = step(
        "users.update of app_metadata",
        lambda: management.users.update(user_id, app_metadata={"sdk_python_checked": True}),
    )
    reread = step("users.get after users.update", lambda: management.users.get(user_id))

    return {
        "granted_scope": grant.get("scope"),
        "user_id": user.user_id,
        "identity_connection": identity.get("connection"),
        "identity_keys": sorted(identity),
        "upstream_token_keys": upstream_token_keys(identity),
        "list_by_connection": by_connection,
        "list_by_email": by_email,
        "update_response_app_metadata": updated.app_metadata,
        "reread_app_metadata": reread.app_metadata,
    }


def with_narrowed_token(domain: str, user_id: str) -> dict[str, Any]:
    grant = narrowed_token(domain, NARROWED_SCOPE)
    management = ManagementClient(
        domain=domain,
        token=grant["access_token"],
        timeout=REQUEST_TIMEOUT_SECONDS,
        httpx_client=management_http_client(),
    )

    label = f"users.get with a {NARROWED_SCOPE} token"
    user = step(label, lambda: management.users.get(user_id))
    identity = cencora_identity(user, label)
    return {
        "granted_scope": grant.get("scope"),
        "user_id": user.user_id,
        "identity_keys": sorted(identity),
        "upstream_token_keys": upstream_token_keys(identity),
    }


def main() -> None:
    if len(sys.argv) != 3:
        usage("expected two arguments")
    domain = checked_domain(sys.argv[1])
    user_id = sys.argv[2]

    findings = {
        "sdk": {"name": "auth0-python", "version": version("auth0-python")},
        "full_grant": with_full_grant(domain, user_id),
        "narrowed": with_narrowed_token(domain, user_id),
    }
    print(json.dumps(findings))


if __name__ == "__main__":
    try:
        main()
    except Exception:
        print("sdk_python.py failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
