"""docs/design.md §1: who may call, and on whose list. Real tokens, real keys, a real JWKS endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import TEST_SECRET, ClientFactory, User, bearer, new_user
from watchlist_service.config import Settings
from watchlist_service.security import SCOPE_READ_ANY, SCOPE_WRITE_ANY


def claims(sub: str | None = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": sub,
        "iss": "watchlist-dev",
        "aud": "watchlist",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = TEST_SECRET, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers)


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


async def assert_unauthenticated(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/v1/watchlist", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 30001
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxpY2U6cHc="},
        {"Authorization": "Bearer not.a.token"},
        {"Authorization": "Bearer " + hs256(claims(), secret="another-secret-" + "y" * 40)},
        {"Authorization": "Bearer " + hs256(claims(exp=int(time.time()) - 3600))},
        {"Authorization": "Bearer " + hs256(claims(nbf=int(time.time()) + 3600))},
        {"Authorization": "Bearer " + hs256(claims(iat=int(time.time()) + 3600))},
        {"Authorization": "Bearer " + hs256(claims(aud="another-service"))},
        {"Authorization": "Bearer " + hs256(claims(iss="https://evil.example.com"))},
        {"Authorization": "Bearer " + hs256(claims(sub=None))},
        {"Authorization": "Bearer " + hs256(claims(sub=""))},
        {"Authorization": "Bearer " + hs256(claims(exp=None))},
        {"Authorization": "Bearer " + hs256(claims(sub="{alice}"))},
        {"Authorization": "Bearer " + unsigned(claims())},
        {"Authorization": "Bearer " + jwt.encode(claims(), TEST_SECRET * 2, algorithm="HS512")},
    ],
    ids=[
        "missing",
        "empty-bearer",
        "basic",
        "garbage",
        "bad-signature",
        "expired",
        "nbf-future",
        "iat-future",
        "wrong-audience",
        "wrong-issuer",
        "no-sub",
        "empty-sub",
        "no-exp",
        "braces-in-sub",
        "alg-none",
        "unpinned-alg",
    ],
)
async def test_rejected_tokens(app_client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await assert_unauthenticated(app_client, headers)
    assert (await app_client.get("/v1/health/live")).status_code == 200


async def test_leeway_accepts_small_clock_skew(app_client: httpx.AsyncClient) -> None:
    token = hs256(claims(sub="skewed", iat=int(time.time()) + 10, nbf=int(time.time()) + 10))
    response = await app_client.get("/v1/watchlist", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_user_id_comes_only_from_the_token(app_client: httpx.AsyncClient, settings: Settings) -> None:
    alice, bob = new_user(settings), new_user(settings)
    await app_client.post("/v1/watchlist", json={"contentId": "movie:1"}, headers=alice.headers)
    for path in (f"/v1/watchlist?userId={alice.id}", f"/v1/watchlist?user_id={alice.id}"):
        response = await app_client.get(path, headers=bob.headers)
        assert response.json()["total"] == 0
    assert (await app_client.get("/v1/watchlist/movie:1", headers=bob.headers)).status_code == 404


async def test_end_user_on_another_users_path_is_403(
    app_client: httpx.AsyncClient, settings: Settings
) -> None:
    alice, bob = new_user(settings), new_user(settings)
    own = await app_client.get(f"/v1/users/{alice.id}/watchlist", headers=alice.headers)
    assert own.status_code == 200
    for method, path, body in [
        ("GET", f"/v1/users/{alice.id}/watchlist", None),
        ("POST", f"/v1/users/{alice.id}/watchlist", {"contentId": "movie:1"}),
        ("DELETE", f"/v1/users/{alice.id}/watchlist/movie:1", None),
        ("GET", f"/v1/users/{alice.id}/watchlist/changes?since=0", None),
    ]:
        response = await app_client.request(method, path, json=body, headers=bob.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == 30002
    assert (await app_client.get("/v1/watchlist", headers=alice.headers)).json()["total"] == 0


async def test_service_scopes(app_client: httpx.AsyncClient, settings: Settings, user: User) -> None:
    reader = bearer(settings, "svc-recommendations", scopes=[SCOPE_READ_ANY])
    writer = bearer(settings, "svc-import", scopes=[SCOPE_READ_ANY, SCOPE_WRITE_ANY])
    base = f"/v1/users/{user.id}/watchlist"
    added = await app_client.post(base, json={"contentId": "movie:550"}, headers=writer)
    assert added.status_code == 201
    assert added.headers["location"] == f"{base}/movie:550"
    assert (await app_client.get(base, headers=reader)).json()["items"][0]["contentId"] == "movie:550"
    contains = await app_client.post(f"{base}/contains", json={"contentIds": ["movie:550"]}, headers=reader)
    assert contains.json() == {"movie:550": True}
    denied = await app_client.post(base, json={"contentId": "movie:1"}, headers=reader)
    assert denied.status_code == 403
    assert (await app_client.delete(f"{base}/movie:550", headers=reader)).status_code == 403
    # The service's own list is untouched: it acted on the user's.
    assert (await app_client.get("/v1/watchlist", headers=writer)).json()["total"] == 0
    assert (await app_client.get("/v1/watchlist", headers=user.headers)).json()["total"] == 1


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_rs256_public_key(make_client: ClientFactory, rsa_keys: tuple[str, str]) -> None:
    private, public = rsa_keys
    async with make_client(jwt_algorithms=["RS256"], jwt_secret=None, jwt_public_key=public) as client:
        good = jwt.encode(claims("rs-user"), private, algorithm="RS256")
        assert (
            await client.get("/v1/watchlist", headers={"Authorization": f"Bearer {good}"})
        ).status_code == 200
        # The development secret is worthless once production keys are configured.
        await assert_unauthenticated(client, {"Authorization": f"Bearer {hs256(claims('rs-user'))}"})
        await assert_unauthenticated(client, {"Authorization": f"Bearer {unsigned(claims('rs-user'))}"})


async def test_hs_rs_key_confusion(make_client: ClientFactory, rsa_keys: tuple[str, str]) -> None:
    """An HS256 token whose HMAC key is the server's RSA public key (forged by hand: PyJWT refuses to)."""
    _, public = rsa_keys

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT"}) + b"." + part(claims("victim"))
    signature = base64.urlsafe_b64encode(
        hmac.new(public.encode(), signing_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    forged = (signing_input + b"." + signature).decode()
    async with make_client(jwt_algorithms=["RS256"], jwt_secret=None, jwt_public_key=public) as client:
        await assert_unauthenticated(client, {"Authorization": f"Bearer {forged}"})


class _JwksHandler(BaseHTTPRequestHandler):
    body: bytes = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def jwks_server(rsa_keys: tuple[str, str]) -> Iterator[str]:
    _, public = rsa_keys
    key = serialization.load_pem_public_key(public.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    _JwksHandler.body = json.dumps({"keys": [jwk]}).encode()
    _JwksHandler.hits = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_jwks_url(make_client: ClientFactory, rsa_keys: tuple[str, str], jwks_server: str) -> None:
    private, _ = rsa_keys
    async with make_client(jwt_algorithms=["RS256"], jwt_secret=None, jwt_jwks_url=jwks_server) as client:
        good = jwt.encode(claims("jwks-user"), private, algorithm="RS256", headers={"kid": "key-1"})
        for _ in range(3):
            response = await client.get("/v1/watchlist", headers={"Authorization": f"Bearer {good}"})
            assert response.status_code == 200
        assert _JwksHandler.hits == 1  # cached
        unknown_kid = jwt.encode(claims("jwks-user"), private, algorithm="RS256", headers={"kid": "key-2"})
        await assert_unauthenticated(client, {"Authorization": f"Bearer {unknown_kid}"})
        no_kid = jwt.encode(claims("jwks-user"), private, algorithm="RS256")
        await assert_unauthenticated(client, {"Authorization": f"Bearer {no_kid}"})


def test_settings_refuse_mixed_algorithm_families() -> None:
    with pytest.raises(ValueError, match="all HMAC or all public-key"):
        Settings(_env_file=None, jwt_algorithms=["HS256", "RS256"], jwt_secret=TEST_SECRET)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(_env_file=None, jwt_secret="short")
