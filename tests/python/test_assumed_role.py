"""assumed_role values: session credentials that act as the configured role."""

import akeyless
import pytest

from helpers import aws_error_code, create_assumed_role_secret, error_body, expiry_minutes_from_now


def test_value_acts_as_the_role(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws)
    value = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token))

    assert value["role_arn"] == aws.role_arn
    assert value["session_token"]
    assert value["ttl_in_minutes"] == "15"
    assert 14 < expiry_minutes_from_now(value["expiration"]) <= 15

    creds = (value["access_key_id"], value["secret_access_key"], value["session_token"])
    identity = aws.client("sts", *creds).get_caller_identity()
    assert f":assumed-role/{aws.role_name}/" in identity["Arn"]
    assert identity["Arn"] == value["assumed_role_arn"]

    iam = aws.client("iam", *creds)
    iam.list_roles()  # the role's own policy
    assert aws_error_code(iam.list_users) == "AccessDenied"


def test_session_token_is_required(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws)
    value = api.dynamic_secret_get_value(akeyless.DynamicSecretGetValue(name=name, token=token))
    sts = aws.client("sts", value["access_key_id"], value["secret_access_key"])  # no session token
    assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"


def test_args_role_arn_picks_one_of_the_configured_roles(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws, aws_role_arns=f"{aws.role_arn},{aws.other_role_arn}")
    for role_arn, role_name in ((aws.role_arn, aws.role_name), (aws.other_role_arn, aws.other_role_name)):
        value = api.dynamic_secret_get_value(
            akeyless.DynamicSecretGetValue(name=name, args=[f"role-arn={role_arn}"], token=token)
        )
        assert value["role_arn"] == role_arn
        sts = aws.client("sts", value["access_key_id"], value["secret_access_key"], value["session_token"])
        assert f":assumed-role/{role_name}/" in sts.get_caller_identity()["Arn"]


def test_role_arn_outside_the_list_is_400(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws)  # only aws.role_arn is allowed
    for get in (
        lambda: api.get_dynamic_secret_value(
            akeyless.GetDynamicSecretValue(name=name, args=[f"role-arn={aws.other_role_arn}"], token=token)
        ),
        lambda: api.dynamic_secret_get_value(
            akeyless.DynamicSecretGetValue(name=name, args=[f"role-arn={aws.other_role_arn}"], token=token)
        ),
    ):
        with pytest.raises(akeyless.ApiException) as err:
            get()
        assert err.value.status == 400
        assert "role-arn" in error_body(err.value)["error"]


def test_several_roles_without_a_choice_default_to_the_first(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws, aws_role_arns=f"{aws.other_role_arn},{aws.role_arn}")
    value = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token))
    assert value["role_arn"] == aws.other_role_arn


def test_unsupported_argument_is_400(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws)
    with pytest.raises(akeyless.ApiException) as err:
        api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, args=["colour=blue"], token=token))
    assert err.value.status == 400
    # Names the argument, never its value (args carry MFA codes).
    message = error_body(err.value)["error"]
    assert "'colour'" in message and "blue" not in message


def test_assumed_role_lease_is_listed_but_its_ttl_is_fixed(api, token, target, aws):
    name = create_assumed_role_secret(api, token, target, aws, user_ttl="20m")
    value = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token))
    (lease,) = api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token))
    assert lease.id == value["id"]
    # The lease's TTL is measured from when the gateway recorded it to the expiry AWS
    # granted, so it may round down by a minute.
    assert lease.custom_ttl in (19, 20)
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_tmp_creds_update(
            akeyless.DynamicSecretTmpCredsUpdate(
                name=name, tmp_creds_id=value["id"], new_ttl_min=60, host=lease.host or "-", token=token
            )
        )
    assert err.value.status == 400
    assert "tmp-creds-id" in error_body(err.value)["error"]
