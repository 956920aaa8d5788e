"""A real OpenStack control plane (Keystone, Placement, Glance, Nova with the fake compute driver)
for interop tests, pointed at a Neutrino endpoint as its networking service.

    with OpenStackCloud(tmp_path, neutron_url=proxy.url) as cloud:
        subprocess.run(["openstack", "server", "list"], env=cloud.cli_env(), check=True)
        cloud.keystone_url       # http://127.0.0.1:<port>/v3, for Neutrino's [keystone_authtoken]
        cloud.image_id, cloud.flavor_id

The services come from the virtual environment that `tools/interop/install-openstack.sh` makes
(NEUTRINO_INTEROP_VENV, default /var/lib/neutrino-interop/venv); their WSGI apps are served by
`tools/interop/wsgi_serve.py` on free ports of 127.0.0.1. Each cloud gets its own MariaDB
databases (<service>_<uid> on 127.0.0.1:3306 as root) and RabbitMQ vhost; on leaving the `with`
every process is stopped and every database and vhost dropped, pass or fail. Logs and config
files are under `workdir`. `VenvServices` is that lifecycle for any interop venv
(`support.neutron` runs Neutron 29 with it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from support.server import clean_env, exited_unreaped, free_port, render_config

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("NEUTRINO_INTEROP_VENV", "/var/lib/neutrino-interop/venv"))
WSGI_SERVE = REPO / "tools" / "interop" / "wsgi_serve.py"
MYSQL = os.environ.get("NEUTRINO_INTEROP_MYSQL", "root@127.0.0.1:3306")
RABBIT = os.environ.get("NEUTRINO_TEST_RABBIT", "127.0.0.1:5672")
RABBIT_USER = os.environ.get("NEUTRINO_TEST_RABBIT_USER", "guest")
RABBIT_PASSWORD = os.environ.get("NEUTRINO_TEST_RABBIT_PASSWORD", "guest")
RABBIT_MGMT = os.environ.get("NEUTRINO_TEST_RABBIT_MGMT", "http://127.0.0.1:15672")
REGION = "RegionOne"
ADMIN_PASSWORD = "adminpassword"
SERVICE_PASSWORD = "servicepassword"
SERVICE_USERS = ("nova", "placement", "glance", "neutron")
DATABASES = ("keystone", "nova_api", "nova_cell0", "nova", "placement", "glance")


class CloudError(RuntimeError):
    pass


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def installed(venv: Path = VENV) -> bool:
    return (venv / ".neutrino-interop-installed").exists()


# -- MariaDB and RabbitMQ ---------------------------------------------------------------------


def _mysql_connect():
    import pymysql

    user, _, hostport = MYSQL.rpartition("@")
    user, _, password = user.partition(":")
    host, _, port = hostport.partition(":")
    return pymysql.connect(host=host, port=int(port or 3306), user=user, password=password,
                           autocommit=True)


def db_url(name: str) -> str:
    return f"mysql+pymysql://{MYSQL}/{name}?charset=utf8"


class _Rabbit:
    """A vhost through the management API when it answers, else through rabbitmqctl."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = False

    def _mgmt(self, method: str) -> bool:
        req = urllib.request.Request(f"{RABBIT_MGMT}/api/vhosts/{quote(self.name, safe='')}",
                                     method=method)
        import base64

        token = base64.b64encode(f"{RABBIT_USER}:{RABBIT_PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=10):
                return True
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return True
            raise
        except (urllib.error.URLError, OSError):
            return False

    @staticmethod
    def _ctl(*args: str, check: bool = True) -> None:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                              timeout=60)
        if check and done.returncode:
            raise CloudError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")

    def create(self) -> None:
        self.created = True
        if not self._mgmt("PUT"):
            self._ctl("add_vhost", self.name)
        # Permissions for the management path too: both ways end with rabbitmqctl's.
        self._ctl("set_permissions", "-p", self.name, RABBIT_USER, ".*", ".*", ".*")

    def delete(self) -> None:
        if not self.created:
            return
        self.created = False
        if not self._mgmt("DELETE"):
            self._ctl("delete_vhost", self.name, check=False)

    @property
    def url(self) -> str:
        return (f"rabbit://{quote(RABBIT_USER, safe='')}:{quote(RABBIT_PASSWORD, safe='')}"
                f"@{RABBIT}/{quote(self.name, safe='')}")


# -- HTTP -------------------------------------------------------------------------------------


def http(method: str, url: str, body: object = None, token: str | None = None,
         headers: Mapping[str, str] | None = None, data: bytes | None = None,
         timeout: float = 30) -> tuple[int, dict, object]:
    """One request; returns (status, headers, parsed JSON body or text)."""
    hdrs = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["X-Auth-Token"] = token
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, rhdrs, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, rhdrs, raw = exc.code, dict(exc.headers), exc.read()
    try:
        parsed: object = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, rhdrs, parsed


def _ok(result: tuple[int, dict, object], what: str, *codes: int) -> object:
    status, _, body = result
    if status not in (codes or (200, 201, 202, 204)):
        raise CloudError(f"{what}: HTTP {status}: {body}")
    return body


class VenvServices:
    """Processes run from one interop virtual environment, with the MariaDB databases and the
    RabbitMQ vhost they use: on leaving the `with` every process is stopped and every
    database and the vhost dropped, pass or fail. Logs are under `workdir`/logs."""

    def __init__(self, workdir: Path, venv: Path, *, databases: Iterable[str] = (),
                 vhost_prefix: str = "interop", start_timeout: float = 120.0) -> None:
        self.workdir = Path(workdir)
        self.venv = Path(venv)
        self.start_timeout = start_timeout
        self.uid = secrets.token_hex(4)
        self.databases = {name: f"{name}_{self.uid}" for name in databases}
        self._created_dbs: list[str] = []
        self.rabbit = _Rabbit(f"{vhost_prefix}-{self.uid}")
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self._old_sigterm: object = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        # A SIGTERM (timeout, CI stopping a run) must still drop the databases and vhost.
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_exit)
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        finally:
            if self._old_sigterm is not None:
                signal.signal(signal.SIGTERM, self._old_sigterm)
                self._old_sigterm = None

    def start(self) -> None:
        """Subclasses start their services here (after `require_installed`)."""

    def require_installed(self) -> None:
        if not installed(self.venv):
            raise CloudError(f"no interop venv at {self.venv}: run "
                             "tools/interop/install-openstack.sh")

    def _step(self, name: str, fn) -> None:
        t = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - t

    def stop(self) -> None:
        errors: list[str] = []
        for name in reversed(list(self.processes)):
            try:
                self._stop_process(name)
            except Exception as exc:  # keep cleaning up
                errors.append(f"{name}: {exc}")
        try:
            self.rabbit.delete()
        except Exception as exc:
            errors.append(f"vhost: {exc}")
        if self._created_dbs:
            try:
                with _mysql_connect() as conn, conn.cursor() as cur:
                    for db in self._created_dbs:
                        cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
                self._created_dbs = []
            except Exception as exc:
                errors.append(f"databases: {exc}")
        if errors:
            raise CloudError("cleanup: " + "; ".join(errors))

    # -- backing services ---------------------------------------------------------------------

    def _create_backends(self) -> None:
        with _mysql_connect() as conn, conn.cursor() as cur:
            for db in self.databases.values():
                self._created_dbs.append(db)
                cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
        self.rabbit.create()

    def _dir(self, *parts: str) -> Path:
        path = self.workdir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- processes ----------------------------------------------------------------------------

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = clean_env(extra)
        env.pop("PYTHONPATH", None)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PYTHONWARNINGS"] = "ignore"
        return env

    def manage(self, *argv: str, env: Mapping[str, str] | None = None,
               timeout: float = 300) -> str:
        """Run one of the venv's tools; raise with its output when it fails."""
        done = subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]],
                              capture_output=True, text=True, env=self._env(env),
                              cwd=self.workdir, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise CloudError(f"{' '.join(argv)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        return done.stdout

    def log_path(self, name: str) -> Path:
        return self._dir("logs") / f"{name}.log"

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        with open(self.log_path(name), "ab") as log:
            self.processes[name] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._env(env), cwd=self.workdir, start_new_session=True)

    def _serve(self, name: str, module: str, env: Mapping[str, str]) -> None:
        self._spawn(name, [str(self.venv / "bin" / "python"), str(WSGI_SERVE), module,
                           "127.0.0.1", str(self.ports[name])], env)

    def _stop_process(self, name: str, timeout: float = 15.0) -> None:
        proc = self.processes.pop(name)
        if proc.returncode is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                if exited_unreaped(proc.pid, timeout):
                    break
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait(timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait_http(self, name: str, url: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            proc = self.processes[name]
            if proc.poll() is not None:
                raise CloudError(f"{name} exited with {proc.returncode}:\n"
                                 + self.log_tail(name))
            try:
                status, _, _ = http("GET", url, timeout=5)
                if status < 500:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise CloudError(f"{name} did not answer {url} in {self.start_timeout:.0f}s:\n"
                         + self.log_tail(name))


# -- the cloud --------------------------------------------------------------------------------


class OpenStackCloud(VenvServices):
    def __init__(self, workdir: Path, neutron_url: str, *,
                 compute_hosts: Iterable[str] = ("novahost1",), venv: Path = VENV,
                 start_timeout: float = 120.0, nova_options: Mapping | None = None) -> None:
        super().__init__(workdir, venv, databases=DATABASES, vhost_prefix="nova-interop",
                         start_timeout=start_timeout)
        self.neutron_url = neutron_url.rstrip("/")
        self.compute_hosts = tuple(compute_hosts)
        self.nova_options = nova_options or {}
        self.ids: dict[str, str] = {}
        self.image_id = ""
        self.flavor_id = ""
        self._admin_token: tuple[str, float] | None = None

    # -- URLs and clients ---------------------------------------------------------------------

    @property
    def keystone_url(self) -> str:
        return self.url("keystone") + "/v3"

    @property
    def compute_url(self) -> str:
        return self.url("nova-api") + "/v2.1"

    def user_env(self, user: str, password: str, project: str) -> dict[str, str]:
        return {"OS_AUTH_URL": self.keystone_url, "OS_USERNAME": user, "OS_PASSWORD": password,
                "OS_PROJECT_NAME": project, "OS_USER_DOMAIN_NAME": "Default",
                "OS_PROJECT_DOMAIN_NAME": "Default", "OS_IDENTITY_API_VERSION": "3",
                "OS_REGION_NAME": REGION, "OS_INTERFACE": "public"}

    def admin_env(self) -> dict[str, str]:
        return self.user_env("admin", ADMIN_PASSWORD, "admin")

    def cli_env(self) -> dict[str, str]:
        """A whole environment for the system `openstack` CLI as the cloud's admin."""
        return clean_env(self.admin_env())

    def keystone_authtoken(self, user: str = "neutron") -> dict[str, str]:
        """A [keystone_authtoken] section validating tokens at this Keystone as `user`."""
        return {"www_authenticate_uri": self.keystone_url, "auth_url": self.keystone_url,
                "auth_type": "password", "username": user, "password": SERVICE_PASSWORD,
                "project_name": "service", "user_domain_name": "Default",
                "project_domain_name": "Default", "region_name": REGION,
                "interface": "public", "memcached_servers": ""}

    def token(self, user: str = "admin", password: str = ADMIN_PASSWORD,
              project: str = "admin") -> tuple[str, dict]:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
        status, headers, resp = http("POST", self.keystone_url + "/auth/tokens", body)
        if status != 201:
            raise CloudError(f"token for {user}: HTTP {status}: {resp}")
        return headers["X-Subject-Token"], resp  # type: ignore[return-value]

    def admin_token(self) -> str:
        if not self._admin_token or time.monotonic() - self._admin_token[1] > 1800:
            self._admin_token = (self.token()[0], time.monotonic())
        return self._admin_token[0]

    def nova(self, method: str, path: str, body: object = None,
             microversion: str = "latest") -> tuple[int, dict, object]:
        token = self.admin_token()
        return http(method, self.compute_url + path, body, token,
                    headers={"OpenStack-API-Version": f"compute {microversion}"})

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.require_installed()
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("keystone", "placement", "glance", "nova-api"):
            self.ports[name] = free_port()
        self._create_backends()
        self._write_configs()
        self._step("keystone", self._setup_keystone)
        self._step("catalog", self._register_catalog)
        self._step("db-sync", self._sync_databases)
        self._step("services", self._start_services)
        self._step("computes", self._wait_computes)
        self._step("image+flavor", self._seed)
        self.timings["total"] = time.monotonic() - began

    # -- config -------------------------------------------------------------------------------

    def _authtoken(self, user: str) -> dict[str, str]:
        return self.keystone_authtoken(user)

    def _service_auth(self, user: str) -> dict[str, str]:
        section = self.keystone_authtoken(user)
        for key in ("www_authenticate_uri", "interface", "memcached_servers"):
            section.pop(key)
        return section

    def _write_configs(self) -> None:
        etc = self.venv / "etc"
        ks = self._dir("keystone")
        (ks / "keystone.conf").write_text(render_config({
            "DEFAULT": {"debug": "true"},
            "database": {"connection": db_url(self.databases["keystone"])},
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(self._dir("keystone", "fernet-keys"))},
            "fernet_receipts": {"key_repository": str(self._dir("keystone", "fernet-keys"))},
            "credential": {"key_repository": str(self._dir("keystone", "credential-keys"))},
            "cache": {"enabled": "false"},
            # bcrypt's default cost makes every user create and token issue take ~0.3 s
            "identity": {"password_hash_rounds": 4},
        }))
        pl = self._dir("placement")
        (pl / "placement.conf").write_text(render_config({
            "DEFAULT": {"debug": "true"},
            "placement_database": {"connection": db_url(self.databases["placement"])},
            "api": {"auth_strategy": "keystone"},
            "keystone_authtoken": self._authtoken("placement"),
        }))
        gl = self._dir("glance")
        (gl / "glance-api.conf").write_text(render_config({
            "DEFAULT": {"debug": "true", "enabled_backends": "fs:file",
                        "bind_host": "127.0.0.1", "bind_port": self.ports["glance"]},
            "database": {"connection": db_url(self.databases["glance"])},
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(self._dir("glance", "images"))},
            "os_glance_staging_store": {
                "filesystem_store_datadir": str(self._dir("glance", "staging"))},
            "os_glance_tasks_store": {
                "filesystem_store_datadir": str(self._dir("glance", "tasks"))},
            "keystone_authtoken": self._authtoken("glance"),
            "paste_deploy": {"flavor": "keystone",
                             "config_file": str(etc / "glance" / "glance-api-paste.ini")},
            "oslo_concurrency": {"lock_path": str(self._dir("glance", "locks"))},
        }))
        nova = self._dir("nova")
        options: dict[str, dict] = {
            "DEFAULT": {"debug": "true", "transport_url": self.rabbit.url,
                        "compute_driver": "fake.FakeDriver", "my_ip": "127.0.0.1",
                        "state_path": str(self._dir("nova", "state")),
                        "instances_path": str(self._dir("nova", "instances")),
                        "use_rootwrap_daemon": "false"},
            "api": {"auth_strategy": "keystone"},
            "wsgi": {"api_paste_config": str(etc / "nova" / "api-paste.ini")},
            "api_database": {"connection": db_url(self.databases["nova_api"])},
            "database": {"connection": db_url(self.databases["nova"])},
            "keystone_authtoken": self._authtoken("nova"),
            "service_user": {**self._service_auth("nova"), "send_service_user_token": "true"},
            "placement": self._service_auth("placement"),
            "neutron": self._service_auth("neutron"),
            "glance": {"region_name": REGION},
            "cinder": {"os_region_name": REGION},
            "oslo_concurrency": {"lock_path": str(self._dir("nova", "locks"))},
            "oslo_messaging_notifications": {"driver": "noop"},
            "conductor": {"workers": 1},
            "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": -1},
            "vnc": {"enabled": "false"},
        }
        for section, values in self.nova_options.items():
            options.setdefault(section, {}).update(values)
        (nova / "nova.conf").write_text(render_config(options))
        for host in self.compute_hosts:
            (nova / f"compute-{host}.conf").write_text(render_config({
                "DEFAULT": {"host": host,
                            "state_path": str(self._dir("nova", f"state-{host}"))}}))

    # -- set-up steps -------------------------------------------------------------------------

    def _setup_keystone(self) -> None:
        conf = str(self.workdir / "keystone" / "keystone.conf")
        base = ["--config-file", conf]
        self.manage("keystone-manage", *base, "db_sync")
        self.manage("keystone-manage", *base, "fernet_setup", "--keystone-user", "root",
                    "--keystone-group", "root")
        self.manage("keystone-manage", *base, "credential_setup", "--keystone-user", "root",
                    "--keystone-group", "root")
        url = self.keystone_url
        self.manage("keystone-manage", *base, "bootstrap", "--bootstrap-password",
                    ADMIN_PASSWORD, "--bootstrap-admin-url", url, "--bootstrap-internal-url",
                    url, "--bootstrap-public-url", url, "--bootstrap-region-id", REGION)
        self._serve("keystone", "keystone.wsgi.api",
                    {"OS_KEYSTONE_CONFIG_FILES": conf})
        self._wait_http("keystone", url)

    def _sync_databases(self) -> None:
        self.manage("placement-manage", "--config-file",
                    str(self.workdir / "placement" / "placement.conf"), "db", "sync")
        self.manage("glance-manage", "--config-file",
                    str(self.workdir / "glance" / "glance-api.conf"), "db_sync")
        nova = ["--config-file", str(self.workdir / "nova" / "nova.conf")]
        self.manage("nova-manage", *nova, "api_db", "sync")
        self.manage("nova-manage", *nova, "cell_v2", "map_cell0", "--database_connection",
                    db_url(self.databases["nova_cell0"]))
        self.manage("nova-manage", *nova, "cell_v2", "create_cell", "--name", "cell1")
        self.manage("nova-manage", *nova, "db", "sync")

    def _register_catalog(self) -> None:
        """Service project, service users and roles, the catalog (network = Neutrino)."""
        token = self.admin_token()
        ks = self.keystone_url

        def post(path: str, body: dict) -> dict:
            return _ok(http("POST", ks + path, body, token), f"POST {path}")  # type: ignore

        def find(path: str, key: str, name: str) -> str | None:
            body = _ok(http("GET", f"{ks}{path}?name={name}", token=token), f"GET {path}")
            return body[key][0]["id"] if body[key] else None  # type: ignore[index]

        project = post("/projects", {"project": {"name": "service", "domain_id": "default"}})
        self.ids["service_project"] = project["project"]["id"]
        self.ids["admin_role"] = find("/roles", "roles", "admin")  # type: ignore[assignment]
        # Keystone's bootstrap makes the `service` role too (since 2024.x); older ones don't.
        self.ids["service_role"] = (find("/roles", "roles", "service")
                                    or post("/roles", {"role": {"name": "service"}})["role"]["id"])
        for name in SERVICE_USERS:
            user = post("/users", {"user": {"name": name, "password": SERVICE_PASSWORD,
                                            "domain_id": "default",
                                            "default_project_id": project["project"]["id"]}})
            uid = user["user"]["id"]
            self.ids[f"user_{name}"] = uid
            for role in ("admin_role", "service_role"):
                _ok(http("PUT", f"{ks}/projects/{self.ids['service_project']}/users/{uid}"
                         f"/roles/{self.ids[role]}", token=token), "role assignment")
        catalog = {"compute": ("nova", self.compute_url),
                   "placement": ("placement", self.url("placement")),
                   "image": ("glance", self.url("glance")),
                   "network": ("neutron", self.neutron_url)}
        for stype, (name, url) in catalog.items():
            service = post("/services", {"service": {"type": stype, "name": name}})
            for interface in ("public", "internal", "admin"):
                post("/endpoints", {"endpoint": {
                    "service_id": service["service"]["id"], "interface": interface,
                    "url": url, "region_id": REGION}})

    def _start_services(self) -> None:
        # Users and catalog exist: nova-compute asks Placement as the placement user at once.
        self._serve("placement", "placement.wsgi.api",
                    {"OS_PLACEMENT_CONFIG_DIR": str(self.workdir / "placement")})
        self._serve("glance", "glance.wsgi.api",
                    {"OS_GLANCE_CONFIG_DIR": str(self.workdir / "glance")})
        nova_dir = self.workdir / "nova"
        # Nova's WSGI app loads its paste pipeline from the first of its config files.
        shutil.copy(self.venv / "etc" / "nova" / "api-paste.ini", nova_dir / "api-paste.ini")
        self._serve("nova-api", "nova.wsgi.osapi_compute",
                    {"OS_NOVA_CONFIG_DIR": str(nova_dir),
                     "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf"})
        conf = ["--config-file", str(nova_dir / "nova.conf")]
        for binary in ("nova-conductor", "nova-scheduler"):
            self._spawn(binary, [str(self.venv / "bin" / binary), *conf])
        for host in self.compute_hosts:
            self._spawn(f"nova-compute-{host}", [
                str(self.venv / "bin" / "nova-compute"), *conf,
                "--config-file", str(nova_dir / f"compute-{host}.conf")])
        self._wait_http("placement", self.url("placement"))
        self._wait_http("glance", self.url("glance") + "/versions")
        self._wait_http("nova-api", self.url("nova-api") + "/")

    def external_events(self) -> list[tuple[str, str]]:
        """(event name, tag) of every os-server-external-events event Nova's API accepted,
        read from its log (Nova logs each as it creates it)."""
        found = []
        try:
            text = self.log_path("nova-api").read_text(errors="replace")
        except OSError:
            return found
        for line in text.splitlines():
            marker = "Creating event "
            if marker in line:
                name, _, tag = line.split(marker, 1)[1].split(" ", 1)[0].partition(":")
                found.append((name, tag))
        return found

    def compute_services(self) -> list[dict]:
        status, _, body = self.nova("GET", "/os-services?binary=nova-compute")
        if status != 200:
            raise CloudError(f"os-services: HTTP {status}: {body}")
        return body["services"]  # type: ignore[index]

    def _wait_computes(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise CloudError(f"{name} exited with {proc.returncode}:\n"
                                     + self.log_tail(name))
            up = {s["host"] for s in self.compute_services() if s["state"] == "up"}
            if up >= set(self.compute_hosts):
                break
            if time.monotonic() > deadline:
                raise CloudError(f"computes not up: {up}:\n"
                                 + self.log_tail(f"nova-compute-{self.compute_hosts[0]}"))
            time.sleep(1)
        # The hosts exist in cell1 once they have reported; map them for the scheduler.
        self.manage("nova-manage", "--config-file", str(self.workdir / "nova" / "nova.conf"),
                    "cell_v2", "discover_hosts", "--verbose")
        while True:
            status, _, body = self.nova("GET", "/os-hypervisors")
            found = {h["hypervisor_hostname"] for h in body.get("hypervisors", [])}  # type: ignore
            if status == 200 and len(found) >= len(self.compute_hosts):
                return
            if time.monotonic() > deadline:
                raise CloudError(f"hypervisors not listed: HTTP {status}: {body}")
            time.sleep(1)

    def _seed(self) -> None:
        token = self.admin_token()
        glance = self.url("glance")
        image = _ok(http("POST", glance + "/v2/images", {
            "name": "tiny", "disk_format": "raw", "container_format": "bare",
            "visibility": "public"}, token), "image create")
        self.image_id = image["id"]  # type: ignore[index]
        _ok(http("PUT", f"{glance}/v2/images/{self.image_id}/file", token=token,
                 data=b"\0" * 1024, headers={"Content-Type": "application/octet-stream"}),
            "image upload", 204)
        status, _, body = self.nova("POST", "/flavors", {"flavor": {
            "name": "m1.tiny", "ram": 64, "vcpus": 1, "disk": 1}})
        _ok((status, {}, body), "flavor create", 200)
        self.flavor_id = body["flavor"]["id"]  # type: ignore[index]
        _ok(http("GET", f"{glance}/v2/images/{self.image_id}", token=token), "image show")
