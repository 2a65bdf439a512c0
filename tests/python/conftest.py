"""Fixtures for driving the dynsec gateway with the unmodified Akeyless Python SDK.

One moto server (IAM + STS emulator, credential checking on) and one gateway
serve the whole test session; every test uses its own uniquely named targets
and dynamic secrets, so tests do not depend on each other.

Environment:
  DYNSEC_BIN            gateway binary (default: <repo>/target/debug/dynsec)
  DYNSEC_MOTO_SERVER    moto_server executable (default: moto_server next to
                        this Python interpreter, else on PATH)
  DYNSEC_TEST_RUST_LOG  the gateway's RUST_LOG (default: info,sqlx=warn,aws=warn)

A failing test's report carries the tail of the gateway's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import akeyless
import pytest

from helpers import (
    ACCOUNT_ID,
    ADMIN_ACCESS_ID,
    ADMIN_ACCESS_KEY,
    GROUP_ACTION,
    POLICY_ACTION,
    REGION,
    REPO_ROOT,
    ROLE_ACTION,
    AwsEnv,
    aws_client,
    aws_error_code,
    free_port,
    make_api,
    unique,
    wait_until,
)

# --------------------------------------------------------------------------
# moto


def _moto_server_cmd() -> list[str]:
    explicit = os.environ.get("DYNSEC_MOTO_SERVER")
    if explicit:
        return [explicit]
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("moto_server")
    if found:
        return [found]
    raise RuntimeError("moto_server not found: install moto[server] or set DYNSEC_MOTO_SERVER")


def _moto_api(endpoint: str, path: str, data: bytes | None = None, content_type: str | None = None):
    req = urllib.request.Request(endpoint + path, data=data, method="POST" if data is not None else "GET")
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def _moto_ready(endpoint: str) -> bool:
    try:
        _moto_api(endpoint, "/moto-api/")
        return True
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def _bootstrap_aws(endpoint: str) -> AwsEnv:
    """reset → auth off → admin with '*' + policy, group, roles → auth on."""
    _moto_api(endpoint, "/moto-api/reset", data=b"")
    _moto_api(endpoint, "/moto-api/reset-auth", data=b"inf", content_type="text/plain")

    iam = aws_client(endpoint, "iam", "testing", "testing")
    iam.create_user(UserName="dynsec-admin")
    iam.put_user_policy(
        UserName="dynsec-admin",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="dynsec-admin")["AccessKey"]

    policy_arn = iam.create_policy(
        PolicyName="pytest-list-users",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": POLICY_ACTION, "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]

    group_name = "pytest-group"
    iam.create_group(GroupName=group_name)
    iam.put_group_policy(
        GroupName=group_name,
        PolicyName="list-groups",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": GROUP_ACTION, "Resource": "*"}]}
        ),
    )

    # Trust the admin's account. moto matches principals literally (no account-root
    # expansion), so the admin user's own ARN is listed as well.
    trust = json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root",
                                              f"arn:aws:iam::{ACCOUNT_ID}:user/dynsec-admin"]},
                        "Action": "sts:AssumeRole"}]}
    )
    role_arns = {}
    for role_name in ("pytest-role", "pytest-other-role"):
        role_arns[role_name] = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="list-roles",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": ROLE_ACTION, "Resource": "*"}]}
            ),
        )

    _moto_api(endpoint, "/moto-api/reset-auth", data=b"0", content_type="text/plain")

    env = AwsEnv(
        endpoint=endpoint,
        admin_key_id=key["AccessKeyId"],
        admin_secret=key["SecretAccessKey"],
        policy_arn=policy_arn,
        group_name=group_name,
        role_arn=role_arns["pytest-role"],
        role_name="pytest-role",
        other_role_arn=role_arns["pytest-other-role"],
        other_role_name="pytest-other-role",
    )
    # Auth is on now: an unknown key must be refused, the admin's must work.
    assert aws_error_code(aws_client(endpoint, "sts", "testing", "testing").get_caller_identity) == "InvalidClientTokenId"
    identity = env.client("sts").get_caller_identity()
    assert identity["Arn"].endswith(":user/dynsec-admin"), identity
    return env


@pytest.fixture(scope="session")
def aws() -> AwsEnv:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*_moto_server_cmd(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: proc.poll() is not None or _moto_ready(endpoint), 30, "moto_server")
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto_server exited with {proc.returncode}: {log.read().decode(errors='replace')}")
        yield _bootstrap_aws(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --------------------------------------------------------------------------
# the gateway

# The gateways running now, for attaching their logs to failure reports.
_running_gateways: list = []

LISTENING = re.compile(r"dynsec gateway listening on (http://127\.0\.0\.1:(\d+))")


@dataclass(frozen=True)
class Gateway:
    url: str  # http://127.0.0.1:PORT
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _gateway_bin() -> Path:
    path = Path(os.environ.get("DYNSEC_BIN", REPO_ROOT / "target" / "debug" / "dynsec"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        raise RuntimeError(f"gateway binary {path} not found: run `cargo build -p dynsec` or set DYNSEC_BIN")
    return path


@pytest.fixture(scope="session")
def dynsec_bin() -> Path:
    """The dynsec binary: the gateway, and the CLI."""
    return _gateway_bin()


@contextlib.contextmanager
def run_gateway(aws_endpoint: str, data_dir: Path, log_path: Path):
    """Start `dynsec gateway` with the preset admin, its AWS calls going to
    `aws_endpoint`; yield it once it listens; stop it with SIGTERM and insist
    on a clean exit."""
    env = {
        **os.environ,
        "DYNSEC_ADMIN_ACCESS_ID": ADMIN_ACCESS_ID,
        "DYNSEC_ADMIN_ACCESS_KEY": ADMIN_ACCESS_KEY,
        # The SDK cannot send dynsec's iam-endpoint/sts-endpoint target keys,
        # so point every AWS client of the gateway at the emulator.
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        # The "listening on" line is an info-level log line: keep info on.
        "RUST_LOG": os.environ.get("DYNSEC_TEST_RUST_LOG", "info,sqlx=warn,aws=warn"),
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(_gateway_bin()), "gateway", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            env=env,
            stdout=log,
            stderr=log,
        )
    url = None

    def listening() -> bool:
        nonlocal url
        if proc.poll() is not None:
            return True
        match = LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            url = match.group(1)
        return url is not None

    gw = None
    try:
        wait_until(listening, 30, "the gateway to listen")
        if url is None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        gw = Gateway(url=url, log_path=log_path)
        _running_gateways.append(gw)
        yield gw
    finally:
        if gw is not None:
            _running_gateways.remove(gw)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"gateway did not stop on SIGTERM:\n{log_path.read_text(errors='replace')}")
    assert code == 0, f"gateway exited with {code} on SIGTERM:\n{log_path.read_text(errors='replace')}"


@pytest.fixture(scope="session")
def gateway(aws: AwsEnv, tmp_path_factory) -> Gateway:
    data_dir = tmp_path_factory.mktemp("gateway-data")
    with run_gateway(aws.endpoint, data_dir, data_dir.parent / f"{data_dir.name}.log") as gw:
        yield gw


# --------------------------------------------------------------------------
# AWS fault injection: a second gateway whose AWS calls pass through microburst


class Chaos:
    """microburst's control API: rules that make chosen AWS calls fail."""

    def __init__(self, url: str):
        self.url = url

    def _call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def set_rules(self, *rules: dict) -> None:
        self._call("POST", "/_microburst/rules", list(rules))

    def clear(self) -> None:
        self._call("POST", "/_microburst/rules", [])
        self._call("DELETE", "/_microburst/fired")

    def fired(self, operation: str) -> int:
        """How many faults fired on an AWS operation since the last clear()."""
        return len(self._call("GET", f"/_microburst/fired?operation={operation}&limit=10000"))


def _microburst_cmd() -> list[str]:
    beside = Path(sys.executable).parent / "microburst"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("microburst")
    if found:
        return [found]
    raise RuntimeError("microburst not found: pip install microburst")


@pytest.fixture(scope="session")
def chaos_proxy(aws: AwsEnv) -> Chaos:
    """microburst in front of moto. It rewrites the Host header, so it re-signs
    what it forwards with the admin's key (the gateway only ever calls AWS as
    the target's admin)."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": aws.admin_key_id, "AWS_SECRET_ACCESS_KEY": aws.admin_secret}
    env.pop("AWS_SESSION_TOKEN", None)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*_microburst_cmd(), "--upstream", aws.endpoint, "--host", "127.0.0.1", "--port", str(port), "--resign"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    chaos = Chaos(f"http://127.0.0.1:{port}")

    def ready() -> bool:
        if proc.poll() is not None:
            return True
        try:
            chaos._call("GET", "/_microburst/health")
            return True
        except OSError:
            return False

    try:
        wait_until(ready, 30, "microburst")
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"microburst exited with {proc.returncode}: {log.read().decode(errors='replace')}")
        yield chaos
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def chaos(chaos_proxy: Chaos) -> Chaos:
    """The fault proxy, with no rules before and after each test."""
    chaos_proxy.clear()
    yield chaos_proxy
    chaos_proxy.clear()


@pytest.fixture(scope="session")
def chaos_gateway(chaos_proxy: Chaos, tmp_path_factory) -> Gateway:
    data_dir = tmp_path_factory.mktemp("chaos-gateway-data")
    with run_gateway(chaos_proxy.url, data_dir, data_dir.parent / f"{data_dir.name}.log") as gw:
        yield gw


@pytest.fixture(scope="session")
def chaos_api(chaos_gateway: Gateway) -> akeyless.V2Api:
    client = make_api(f"{chaos_gateway.url}/api/v2")
    yield client
    client.api_client.close()


@pytest.fixture(scope="session")
def chaos_token(chaos_api: akeyless.V2Api) -> str:
    return chaos_api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY)).token


@pytest.fixture
def chaos_target(chaos_api: akeyless.V2Api, chaos_token: str, aws: AwsEnv) -> str:
    return _create_target(chaos_api, chaos_token, aws)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for gw in _running_gateways:
            tail = "\n".join(gw.log().splitlines()[-40:])
            report.sections.append((f"gateway {gw.url} log (last 40 lines)", tail))


# --------------------------------------------------------------------------
# SDK clients


@pytest.fixture(scope="session")
def api(gateway: Gateway) -> akeyless.V2Api:
    """The SDK the way Akeyless documents it: host ending in /api/v2."""
    client = make_api(f"{gateway.url}/api/v2")
    yield client
    client.api_client.close()


@pytest.fixture(scope="session")
def bare_api(gateway: Gateway) -> akeyless.V2Api:
    """The SDK pointed at the gateway root (operations served at /<op>)."""
    client = make_api(gateway.url)
    yield client
    client.api_client.close()


@pytest.fixture(scope="session")
def lax_api(gateway: Gateway) -> akeyless.V2Api:
    """The SDK with client-side validation off, to let the server judge missing fields."""
    client = make_api(f"{gateway.url}/api/v2", client_side_validation=False)
    yield client
    client.api_client.close()


@pytest.fixture(scope="session")
def token(api: akeyless.V2Api) -> str:
    out = api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY))
    return out.token


@pytest.fixture
def target(api: akeyless.V2Api, token: str, aws: AwsEnv) -> str:
    """A fresh AWS target holding moto's admin key; returns its name."""
    return _create_target(api, token, aws)


def _create_target(api: akeyless.V2Api, token: str, aws: AwsEnv) -> str:
    name = unique("/pytest/targets/aws")
    api.target_create_aws(
        akeyless.TargetCreateAws(
            name=name,
            access_key_id=aws.admin_key_id,
            access_key=aws.admin_secret,
            region=REGION,
            token=token,
        )
    )
    return name

