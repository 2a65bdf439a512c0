"""The CLI as an AWS `credential_process`: a profile in an AWS config file runs
`dynsec get-dynamic-secret-value --name <secret> --format credential-process`,
and boto3 (like every AWS SDK and the AWS CLI) calls it by itself and signs its
requests with the fresh temporary credentials. moto checks them (auth on)."""

import shlex

import akeyless
import boto3
import pytest

from helpers import (
    ADMIN_ACCESS_ID,
    ADMIN_ACCESS_KEY,
    REGION,
    aws_error_code,
    create_assumed_role_secret,
    create_iam_user_secret,
)


@pytest.fixture
def profile_for(tmp_path, monkeypatch, gateway, dynsec_bin):
    """A boto3 session on a profile whose credentials come from dynsec."""

    def make(secret_name: str) -> boto3.Session:
        config = tmp_path / "aws-config"
        command = " ".join(
            shlex.quote(part)
            for part in [
                str(dynsec_bin),
                "get-dynamic-secret-value",
                "--name",
                secret_name,
                "--format",
                "credential-process",
            ]
        )
        config.write_text(f"[profile dynsec]\nregion = {REGION}\ncredential_process = {command}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
        # What the CLI reads; boto3 passes its environment to the process.
        monkeypatch.setenv("DYNSEC_GATEWAY_URL", gateway.url)
        monkeypatch.setenv("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
        monkeypatch.setenv("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY)
        monkeypatch.setenv("DYNSEC_HOME", str(tmp_path / "dynsec-home"))
        return boto3.Session(profile_name="dynsec")

    return make


def test_a_profile_fetches_a_temporary_iam_user_by_itself(profile_for, api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    session = profile_for(name)

    credentials = session.get_credentials()
    assert credentials.method == "custom-process"
    identity = session.client("sts", endpoint_url=aws.endpoint).get_caller_identity()
    assert ":user/dynsec/tmp." in identity["Arn"], identity

    # The credentials are a lease of the dynamic secret, with the rights it grants.
    frozen = credentials.get_frozen_credentials()
    leases = api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token))
    assert frozen.access_key in {lease.access_id for lease in leases}
    iam = session.client("iam", endpoint_url=aws.endpoint)
    iam.list_users()  # granted by the dynamic secret's policy
    assert aws_error_code(iam.list_roles) == "AccessDenied"
    # botocore read the expiry, so it refreshes the credentials in time by itself.
    assert credentials._expiry_time is not None


def test_a_profile_fetches_an_assumed_role_session(profile_for, api, token, target, aws):
    # Longer than the 15 minutes before expiry at which botocore already refreshes.
    name = create_assumed_role_secret(api, token, target, aws, user_ttl="60m")
    session = profile_for(name)

    identity = session.client("sts", endpoint_url=aws.endpoint).get_caller_identity()
    assert f":assumed-role/{aws.role_name}/" in identity["Arn"], identity
    assert session.get_credentials().get_frozen_credentials().token
