"""Shared constants and helpers for the SDK tests (fixtures live in conftest.py)."""

from __future__ import annotations

import datetime
import json
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import akeyless
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from dateutil import parser as dateparser

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"

ADMIN_ACCESS_ID = "p-pytestadmin"
ADMIN_ACCESS_KEY = "pytest-admin-access-key-0123456789"

# What the temporary credentials get, and what each grant allows.
POLICY_ACTION = "iam:ListUsers"  # via the customer-managed policy
GROUP_ACTION = "iam:ListGroups"  # via the group's inline policy
ROLE_ACTION = "iam:ListRoles"  # via the roles' inline policy (assumed_role)


def make_api(host: str, client_side_validation: bool = True) -> akeyless.V2Api:
    """The SDK client exactly as a user builds it."""
    config = akeyless.Configuration(host=host)
    config.client_side_validation = client_side_validation
    return akeyless.V2Api(akeyless.ApiClient(config))


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def aws_client(endpoint: str, service: str, key_id: str, secret: str, session_token: str | None = None):
    """A boto3 client against moto with explicit credentials and no retries."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=session_token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def aws_error_code(call: Callable[[], object]) -> str:
    """Run an AWS call that must fail; return its error code."""
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def error_body(exc: akeyless.ApiException) -> dict:
    """The gateway's {"error": "..."} body carried by an SDK ApiException."""
    body = json.loads(exc.body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), exc.body
    return body


def expiry_minutes_from_now(expiration: str) -> float:
    """Minutes until an RFC 3339 timestamp (which must carry an offset)."""
    expires = dateparser.isoparse(expiration)
    assert expires.tzinfo is not None, f"expiration {expiration!r} carries no offset"
    return (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 60


@dataclass(frozen=True)
class AwsEnv:
    """The emulated AWS account the gateway manages."""

    endpoint: str
    admin_key_id: str
    admin_secret: str
    policy_arn: str
    group_name: str
    role_arn: str
    role_name: str
    other_role_arn: str
    other_role_name: str

    def client(self, service: str, key_id: str | None = None, secret: str | None = None,
               session_token: str | None = None):
        """A client acting as the given credentials (default: the admin)."""
        return aws_client(
            self.endpoint,
            service,
            key_id or self.admin_key_id,
            secret or self.admin_secret,
            session_token,
        )


def create_iam_user_secret(api: akeyless.V2Api, token: str, target: str, aws: AwsEnv, **settings) -> str:
    """An iam_user dynamic secret granting the test policy and group; returns its name."""
    name = settings.pop("name", None) or unique("/pytest/iam-user/ds")
    request = dict(
        name=name,
        target_name=target,
        access_mode="iam_user",
        aws_user_policies=aws.policy_arn,
        aws_user_groups=aws.group_name,
        token=token,
    )
    request.update(settings)
    api.dynamic_secret_create_aws(akeyless.DynamicSecretCreateAws(**request))
    return name


def create_assumed_role_secret(api: akeyless.V2Api, token: str, target: str, aws: AwsEnv, **settings) -> str:
    """An assumed_role dynamic secret allowed to assume the test role; returns its name."""
    name = settings.pop("name", None) or unique("/pytest/assumed-role/ds")
    request = dict(
        name=name,
        target_name=target,
        access_mode="assumed_role",
        aws_role_arns=aws.role_arn,
        user_ttl="15m",
        token=token,
    )
    request.update(settings)
    api.dynamic_secret_create_aws(akeyless.DynamicSecretCreateAws(**request))
    return name
