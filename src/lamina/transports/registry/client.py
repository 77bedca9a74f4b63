"""One HTTP session with one registry: scheme choice, authentication, error translation.

Plain HTTP is allowed where Docker allows it without configuration (loopback: localhost,
127.0.0.0/8, ::1) and elsewhere only when TLS verification is turned off; HTTPS is tried
first, HTTP is the fallback. Every httpx exception and refusal becomes a one-line
LaminaError here, at the boundary."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from lamina import reference
from lamina.errors import AuthError, NotFoundError, RegistryError
from lamina.transports.registry.auth import Challenge, Credentials, parse_challenges

Body = bytes | Callable[[], Iterable[bytes]] | None

DOCKER_HUB_API = "registry-1.docker.io"
USER_AGENT = "lamina/0.1"
TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1, with or without a port."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or "]:" in host else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_host(domain: str) -> str:
    """The host that serves a registry's API (Docker Hub's differs from its name)."""
    return DOCKER_HUB_API if domain == reference.DEFAULT_DOMAIN else domain


class Session:
    """An authenticated connection to one registry host, shared by its repositories."""

    def __init__(
        self, host: str, *, tls_verify: bool = True, credentials: Credentials | None = None
    ) -> None:
        self.host = host
        self.credentials = credentials
        local = is_loopback(host)
        # Docker treats loopback registries as insecure: HTTP allowed, certificates unchecked
        self.allow_http = local or not tls_verify
        self._client = httpx.Client(
            verify=tls_verify and not local,
            timeout=TIMEOUT,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        self._base: str | None = None
        self._challenge: Challenge | None = None
        self._authorization: str | None = None
        self._scopes: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connecting and authenticating ----------------------------------------------

    @property
    def base(self) -> str:
        if self._base is None:
            self.ping()
        assert self._base is not None
        return self._base

    def ping(self) -> httpx.Response:
        """GET /v2/ to pick the scheme and learn how the registry wants us to authenticate."""
        schemes = ("https", "http") if self.allow_http else ("https",)
        for scheme in schemes:
            url = f"{scheme}://{api_host(self.host)}/v2/"
            try:
                resp = self._client.get(url)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                if scheme == "https" and self.allow_http:
                    continue  # a plain-HTTP registry: fall back, as Docker does
                raise self._unreachable(exc) from None
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            self._base = f"{scheme}://{api_host(self.host)}"
            if resp.status_code == 401:
                self._challenge = self._pick(resp)
            elif resp.status_code != 200:
                raise RegistryError(
                    f"{self.host} does not look like a registry (GET /v2/ answered "
                    f"{resp.status_code})",
                    "check the registry address",
                )
            return resp
        raise AssertionError("unreachable")

    def authenticate(self, scopes: Iterable[str]) -> None:
        """Get ready to act on `scopes` (`repository:NAME:pull,push`); raises AuthError."""
        self._scopes.update(scopes)
        if self._base is None:
            self.ping()
        if self._challenge is None:
            return
        if self._challenge.scheme == "basic":
            if self.credentials is None or self.credentials.identity_token:
                raise self._login_needed()
            self._authorization = self.credentials.basic()
        else:
            self._authorization = f"Bearer {self._token(self._challenge, sorted(self._scopes))}"

    def _pick(self, resp: httpx.Response) -> Challenge:
        found = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
        for wanted in ("bearer", "basic"):
            for ch in found:
                if ch.scheme == wanted:
                    return ch
        raise AuthError(
            f"{self.host} wants an authentication scheme lamina does not speak",
            "lamina speaks Basic and Bearer token authentication",
        )

    def _token(self, challenge: Challenge, scopes: list[str]) -> str:
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise AuthError(f"{self.host} sent a token challenge without a usable realm {realm!r}")
        try:
            resp = self._ask_token(realm, challenge.params.get("service"), scopes)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc, realm) from None
        if resp.status_code in (401, 403):
            raise self._refused()
        if resp.status_code != 200:
            raise AuthError(f"token server of {self.host} answered {resp.status_code}")
        try:
            doc = resp.json()
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"token server of {self.host} sent no token")
        return token

    def _ask_token(self, realm: str, service: str | None, scopes: list[str]) -> httpx.Response:
        """GET with Basic credentials; with an identity token, Docker's OAuth2 refresh grant."""
        creds = self.credentials
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token}
            form |= {"client_id": "lamina", "scope": " ".join(scopes), "service": service or ""}
            return self._client.post(realm, data=form)
        params: list[tuple[str, str | int | float | bool | None]] = [("scope", s) for s in scopes]
        params += [("service", service)] if service is not None else []
        if creds is None:
            return self._client.get(realm, params=params)
        params.append(("account", creds.username))
        return self._client.get(realm, params=params, headers={"Authorization": creds.basic()})

    # -- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: Body = None,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
    ) -> httpx.Response:
        """Send a request (path or absolute URL); a status outside `ok` raises a clear error.

        A 401 mid-session (expired token, wider scope needed) re-authenticates once.
        """
        for attempt in (0, 1):
            resp = self._send(method, url, headers, params, body, stream)
            if resp.status_code == 401 and attempt == 0 and self._renew(resp):
                resp.close()
                continue
            if resp.status_code not in ok:
                try:
                    if stream:
                        resp.read()
                finally:
                    resp.close()
                raise self.error(resp, what)
            return resp
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None,
        params: dict[str, str] | None,
        body: Body,
        stream: bool,
    ) -> httpx.Response:
        full = httpx.URL(url if url.startswith(("http://", "https://")) else self.base + url)
        if params:
            # merge: an upload URL carries the registry's own state in its query
            full = full.copy_merge_params(params)
        all_headers = dict(headers or {})
        if self._authorization:
            all_headers["Authorization"] = self._authorization
        content: Any = body() if callable(body) else body
        try:
            req = self._client.build_request(method, full, headers=all_headers, content=content)
            return self._client.send(req, stream=stream)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _renew(self, resp: httpx.Response) -> bool:
        challenge = self._pick(resp)
        if challenge.scheme != "bearer":
            return False
        if "scope" in challenge.params:
            self._scopes.update(challenge.params["scope"].split(" "))
        self._challenge = challenge
        self._authorization = f"Bearer {self._token(challenge, sorted(self._scopes))}"
        return True

    # -- errors -----------------------------------------------------------------------

    def error(self, resp: httpx.Response, what: str) -> Exception:
        detail = _error_detail(resp)
        status = resp.status_code
        if status == 401:
            if self.credentials is None:
                return self._login_needed()
            return self._refused()
        if status == 403:
            return AuthError(
                f"{self.host} denied access to {what}{detail}",
                "check that your account may pull/push this repository",
            )
        if status == 404:
            return NotFoundError(f"{what} not found on {self.host}{detail}")
        return RegistryError(f"{what}: {self.host} answered {status}{detail}")

    def _login_needed(self) -> AuthError:
        login = f"run `lamina login {self.host}`"
        return AuthError(f"{self.host} requires authentication", "log in first", command=login)

    def _refused(self) -> AuthError:
        who = f"the credentials of {self.credentials.username!r}" if self.credentials else None
        login = f"run `lamina login {self.host}`"
        what = f"{self.host} refused {who or 'anonymous access'}"
        return AuthError(what, "log in again with a valid user and password", command=login)

    def _unreachable(self, exc: httpx.HTTPError, where: str | None = None) -> RegistryError:
        target = where or self.host
        if isinstance(exc, httpx.TimeoutException):
            return RegistryError(f"registry {target} timed out", "try again later")
        reason = str(exc).split("\n", 1)[0] or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            hint = "check the address and that the registry is running"
            if self.allow_http:
                return RegistryError(f"cannot reach registry {target} ({reason})", hint)
            hint += "; a plain-HTTP registry needs TLS verification turned off"
            flag = "pass --tls-verify=false"
            return RegistryError(f"cannot reach registry {target} ({reason})", hint, command=flag)
        return RegistryError(f"connection to registry {target} failed ({reason})", "try again")


def _error_detail(resp: httpx.Response) -> str:
    """The registry's own words: `: MANIFEST_UNKNOWN manifest unknown`, when it sent some."""
    try:
        errors = resp.json().get("errors") or []
        parts = [f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors[:3]]
    except (ValueError, AttributeError, TypeError):
        return ""
    text = "; ".join(p for p in parts if p)
    return f" ({text})" if text else ""


def iter_chunks(resp: httpx.Response, size: int | None) -> Iterator[bytes]:
    """The decoded body of a streamed response, translating transport errors.

    `size` None: the chunks as the socket delivers them (no re-chunking copies)."""
    try:
        yield from resp.iter_bytes(size)
    except httpx.HTTPError as exc:
        raise RegistryError(
            f"download from {resp.request.url.host} broke off ({exc})", "try again"
        ) from None
