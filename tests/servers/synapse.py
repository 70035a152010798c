"""A throwaway Synapse homeserver for integration tests.

``SynapseServer`` writes a ``homeserver.yaml`` (as JSON, which is valid YAML)
into a fresh temporary directory, starts ``python -m synapse.app.homeserver``
as a subprocess bound to ``127.0.0.1`` on a free port, waits for
``GET /_matrix/client/versions`` to answer, and removes everything on
``stop()``.

* server_name ``localhost``, sqlite database, no federation listener,
  ``trusted_key_servers: []``, presence off, metrics off, open registration off.
* Users are created with the shared-secret admin API
  (``/_synapse/admin/v1/register``, nonce + HMAC-SHA1), see ``register_user``.
* By default every client-visible rate limit is raised far beyond anything a
  test does.  ``rate_limited=True`` keeps everything raised *except*
  ``rc_message`` which becomes 0.2/s with a burst of 2, so a test can trigger
  ``M_LIMIT_EXCEEDED`` deterministically by sending three messages quickly.
* ``extra_config`` is deep-merged into the generated config last, so a test
  can override anything (e.g. ``{"rc_login": {"address": {...}}}``).

Logs go to ``<tmpdir>/homeserver.log`` at WARNING level; the process'
stdout/stderr go to ``<tmpdir>/stdout.log``.  Both are quoted on startup failure.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tests.servers.local import LocalServer
from tests.servers.net import free_port

__all__ = [
    "RegisteredUser",
    "SynapseHTTPError",
    "SynapseServer",
    "SynapseUnavailable",
    "raised_rate_limits",
]


class SynapseUnavailable(RuntimeError):
    """Synapse is not installed or did not start."""


class SynapseHTTPError(RuntimeError):
    """Non-2xx answer from ``SynapseServer.request``; ``errcode`` is e.g. ``M_LIMIT_EXCEEDED``."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body}")
        self.status = status
        self.body = body
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        self.errcode: str | None = parsed.get("errcode") if isinstance(parsed, dict) else None


class RegisteredUser(NamedTuple):
    user_id: str
    access_token: str
    device_id: str


# Far beyond anything a test does; per_second is tokens/second, burst_count the bucket size.
_RAISED: dict[str, float] = {"per_second": 100_000, "burst_count": 1_000_000}


def raised_rate_limits() -> dict[str, Any]:
    """Every rate limiter Synapse 1.163 reads from config (synapse/config/ratelimiting.py)."""

    def r() -> dict[str, float]:
        return dict(_RAISED)

    return {
        "rc_message": r(),
        "rc_registration": r(),
        "rc_registration_token_validity": r(),
        "rc_login": {"address": r(), "account": r(), "failed_attempts": r()},
        "rc_admin_redaction": r(),
        "rc_joins": {"local": r(), "remote": r()},
        "rc_joins_per_room": r(),
        "rc_key_requests": r(),
        "rc_3pid_validation": r(),
        "rc_invites": {"per_room": r(), "per_user": r(), "per_issuer": r()},
        "rc_third_party_invite": r(),
        "rc_media_create": r(),
        "rc_presence": {"per_user": r()},
        "rc_delayed_event_mgmt": r(),
        "rc_room_creation": r(),
        "rc_reports": r(),
        "rc_user_directory": r(),
        "rc_profile": r(),
        "rc_federation": {
            "window_size": 1000,
            "sleep_limit": 10_000,
            "sleep_delay": 1,
            "reject_limit": 100_000,
            "concurrent": 100,
        },
        "federation_rr_transactions_per_room_per_second": 10_000,
        # Remote media download limits are sizes (bytes), not counts.
        "remote_media_download_per_second": "1G",
        "remote_media_download_burst_count": "10G",
    }


#: rc_message used when ``rate_limited=True``: the third message in a row is rejected.
LOW_MESSAGE_RATE: dict[str, float] = {"per_second": 0.2, "burst_count": 2}


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


class SynapseServer(LocalServer):
    """A disposable Synapse on 127.0.0.1 (see module docstring)."""

    def __init__(
        self,
        *,
        rate_limited: bool = False,
        server_name: str = "localhost",
        extra_config: Mapping[str, Any] | None = None,
        startup_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.rate_limited = rate_limited
        self.server_name = server_name
        self.extra_config: Mapping[str, Any] = extra_config or {}
        self.startup_timeout = startup_timeout
        self.python = python
        self.registration_shared_secret = secrets.token_hex(32)
        self.port = 0
        self._tmpdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: Any = None
        #: Seconds the last start()/restart() took until /versions answered.
        self.startup_seconds: float | None = None

    # ------------------------------------------------------------ properties
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.tmpdir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        return self.tmpdir / "homeserver.log"

    @property
    def stdout_path(self) -> Path:
        return self.tmpdir / "stdout.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # ---------------------------------------------------------------- config
    def build_config(self) -> dict[str, Any]:
        tmp = self.tmpdir
        limits = raised_rate_limits()
        if self.rate_limited:
            limits["rc_message"] = dict(LOW_MESSAGE_RATE)
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.base_url + "/",
            "pid_file": str(tmp / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    # "client" also mounts /_synapse/admin; no federation resource.
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(tmp / "homeserver.db")},
            },
            "log_config": str(tmp / "log.config"),
            "media_store_path": str(tmp / "media_store"),
            "signing_key_path": str(tmp / "signing.key"),
            "registration_shared_secret": self.registration_shared_secret,
            "macaroon_secret_key": secrets.token_hex(32),
            "form_secret": secrets.token_hex(32),
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "enable_metrics": False,
            "url_preview_enabled": False,
            # Password hashing at the default 12 rounds costs ~0.25 s per register/login.
            "bcrypt_rounds": 4,
            **limits,
        }
        return _deep_merge(config, self.extra_config)

    def _log_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                    "%(request)s - %(message)s"
                }
            },
            "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "filters": ["context"],
                    "encoding": "utf8",
                }
            },
            "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }

    def _write_files(self) -> None:
        tmp = self.tmpdir
        (tmp / "media_store").mkdir(exist_ok=True)
        key_file = tmp / "signing.key"
        if not key_file.exists():
            # Synapse's format: "<alg> <version> <unpadded base64 of the 32-byte ed25519 seed>".
            key_file.write_text(
                f"ed25519 a_{secrets.token_hex(2)} {_unpadded_b64(os.urandom(32))}\n"
            )
        (tmp / "log.config").write_text(json.dumps(self._log_config(), indent=2))
        self.config_path.write_text(json.dumps(self.build_config(), indent=2))

    # ------------------------------------------------------------- lifecycle
    def start(self) -> SynapseServer:
        self._require_stopped()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="sosbot-synapse-"))
        try:
            self.port = free_port()
            self._write_files()
            self._spawn_and_wait()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_and_wait(self) -> None:
        began = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS",)}
        env["PYTHONUNBUFFERED"] = "1"
        self._stdout = self.stdout_path.open("ab")
        self._proc = subprocess.Popen(
            [self.python, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.tmpdir,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal does not hit it mid-test
        )
        deadline = began + self.startup_timeout
        url = self.base_url + "/_matrix/client/versions"
        while True:
            if self._proc.poll() is not None:
                raise SynapseUnavailable(
                    f"Synapse exited with code {self._proc.returncode} during startup\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SynapseUnavailable(
                    f"Synapse did not answer {url} within {self.startup_timeout}s\n"
                    + self.log_tail()
                )
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - began

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def stop(self) -> None:
        """Terminate Synapse (SIGTERM, then SIGKILL after 15 s) and delete the directory."""
        self._terminate()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def halt(self) -> None:
        """Stop the process (SIGTERM), keeping the database, keys and port: an outage.
        ``resume`` starts it again as it was."""
        self._require_started()
        self._terminate()

    def resume(self) -> None:
        """Start a halted Synapse again on the same port with the same data."""
        self._require_started()
        if self.running:
            raise RuntimeError("SynapseServer is running")
        self._spawn_and_wait()

    def restart(self, *, extra_config: Mapping[str, Any] | None = None) -> None:
        """Restart on the same port, keeping the database, keys and secrets.

        ``extra_config`` (if given) replaces the current one before restarting.
        """
        self._require_started()
        self._terminate()
        if extra_config is not None:
            self.extra_config = extra_config
        self._write_files()
        self._spawn_and_wait()

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.stdout_path, self.log_path):
            try:
                text = path.read_text(errors="replace")
            except (OSError, RuntimeError):
                continue
            parts.append(f"--- {path.name} (tail) ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    # ------------------------------------------------------------------ HTTP
    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Blocking JSON request against the homeserver; raises SynapseHTTPError on HTTP errors."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                result: dict[str, Any] = json.loads(resp.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise SynapseHTTPError(method, path, exc.code, detail) from exc

    def register_user(
        self,
        localpart: str,
        password: str,
        admin: bool = False,
        *,
        displayname: str | None = None,
    ) -> RegisteredUser:
        """Create a user via the shared-secret admin API.

        Returns ``(user_id, access_token, device_id)`` of the session the
        registration creates (a device of its own; log in again with the
        password to get a separate device for an E2EE client).
        """
        path = "/_synapse/admin/v1/register"
        nonce = self.request("GET", path)["nonce"]
        mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        result = self.request("POST", path, body)
        return RegisteredUser(result["user_id"], result["access_token"], result["device_id"])

    def login(self, localpart: str, password: str, device_id: str | None = None) -> RegisteredUser:
        """Password login (``m.login.password``); returns a new device's credentials."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        if device_id:
            body["device_id"] = device_id
        result = self.request("POST", "/_matrix/client/v3/login", body)
        return RegisteredUser(result["user_id"], result["access_token"], result["device_id"])
