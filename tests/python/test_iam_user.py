"""iam_user values: the issued key works against (emulated) AWS with exactly the granted rights,
and its temporary credentials can be listed, revoked and extended through the SDK."""

import datetime
import json
import string

import akeyless
import pytest

from helpers import aws_error_code, create_iam_user_secret, error_body, expiry_minutes_from_now, unique

SYMBOLS = set("!@#$%^&*()_+-=[]{}|")


def fetch(api, token, name, **kw) -> dict:
    value = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token, **kw))
    assert isinstance(value, dict)
    return value


def lease_ids(api, token, name) -> set[str]:
    return {t.id for t in api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token))}


def test_issued_key_acts_as_a_temp_user_with_the_granted_rights(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)

    assert value["user_name"].startswith("tmp.")
    assert value["id"]
    assert "console_password" not in value
    assert value["ttl_in_minutes"] == "60"
    assert 58 < expiry_minutes_from_now(value["expiration"]) <= 60

    identity = aws.client("sts", value["access_key_id"], value["secret_access_key"]).get_caller_identity()
    assert identity["Arn"] == value["user_arn"]
    assert f":user/dynsec/{value['user_name']}" in identity["Arn"]

    iam = aws.client("iam", value["access_key_id"], value["secret_access_key"])
    iam.list_users()  # allowed by the attached customer-managed policy
    iam.list_groups()  # allowed by the group's inline policy
    assert aws_error_code(iam.list_roles) == "AccessDenied"  # in neither
    assert aws_error_code(lambda: iam.create_user(UserName=unique("escalate"))) == "AccessDenied"

    # What the admin sees in IAM matches what was asked for.
    admin = aws.client("iam")
    user = admin.get_user(UserName=value["user_name"])["User"]
    assert user["Path"] == "/dynsec/"
    attached = admin.list_attached_user_policies(UserName=value["user_name"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [aws.policy_arn]
    groups = admin.list_groups_for_user(UserName=value["user_name"])["Groups"]
    assert [g["GroupName"] for g in groups] == [aws.group_name]


def test_every_fetch_issues_a_distinct_user(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    first, second = fetch(api, token, name), fetch(api, token, name)
    assert first["user_name"] != second["user_name"]
    assert first["access_key_id"] != second["access_key_id"]
    assert first["id"] != second["id"]
    assert {first["id"], second["id"]} <= lease_ids(api, token, name)


def test_dynamic_secret_get_value_returns_flat_strings(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws, user_ttl="30m")
    value = api.dynamic_secret_get_value(akeyless.DynamicSecretGetValue(name=name, token=token))
    assert isinstance(value, dict)
    assert all(isinstance(v, str) for v in value.values())
    assert value["ttl_in_minutes"] == "30"
    identity = aws.client("sts", value["access_key_id"], value["secret_access_key"]).get_caller_identity()
    assert identity["Arn"] == value["user_arn"]


def test_value_through_host_without_api_v2(bare_api, token, target, aws, api):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(bare_api, token, name)
    aws.client("iam", value["access_key_id"], value["secret_access_key"]).list_users()


def test_inline_connection_without_a_target(api, token, aws):
    name = unique("/pytest/inline/ds")
    api.gateway_create_producer_aws(
        akeyless.GatewayCreateProducerAws(
            name=name,
            access_mode="iam_user",
            aws_access_key_id=aws.admin_key_id,
            aws_access_secret_key=aws.admin_secret,
            region="us-east-1",
            aws_user_policies=aws.policy_arn,
            token=token,
        )
    )
    details = api.gateway_get_producer(akeyless.GatewayGetProducer(name=name, token=token))
    assert details.item_targets_assoc in (None, [])
    assert details.aws_access_key_id == aws.admin_key_id
    value = fetch(api, token, name)
    iam = aws.client("iam", value["access_key_id"], value["secret_access_key"])
    iam.list_users()
    assert aws_error_code(iam.list_groups) == "AccessDenied"  # no group this time


def test_console_access_password_honours_length_and_classes(api, token, target, aws):
    name = create_iam_user_secret(
        api, token, target, aws,
        aws_user_console_access=True,
        password_length="24",
        use_capital_letters="true",
        use_lower_letters="true",
        use_numbers="false",
        use_special_characters="false",
    )
    for _ in range(3):
        value = fetch(api, token, name)
        password = value["console_password"]
        assert len(password) == 24
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.ascii_lowercase for c in password)
        assert not any(c in string.digits or c in SYMBOLS for c in password), password
        assert set(password) <= set(string.ascii_letters)
    assert value["console_sign_in_url"].startswith("https://")
    profile = aws.client("iam").get_login_profile(UserName=value["user_name"])["LoginProfile"]
    assert profile["UserName"] == value["user_name"]


def test_console_password_with_all_classes(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws, aws_user_console_access=True, password_length="12")
    password = fetch(api, token, name)["console_password"]
    assert len(password) == 12
    assert any(c.isupper() for c in password)
    assert any(c.islower() for c in password)
    assert any(c.isdigit() for c in password)
    assert any(c in SYMBOLS for c in password)


def test_console_only_user_gets_no_access_key(api, token, target, aws):
    name = create_iam_user_secret(
        api, token, target, aws, aws_user_console_access=True, aws_user_programmatic_access=False
    )
    value = fetch(api, token, name)
    assert "access_key_id" not in value and "secret_access_key" not in value
    assert value["console_password"]
    assert aws.client("iam").list_access_keys(UserName=value["user_name"])["AccessKeyMetadata"] == []


# --------------------------------------------------------------------------
# temporary credentials


def test_tmp_creds_list_shows_each_lease(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)
    for listed in (
        api.gateway_get_tmp_users(akeyless.GatewayGetTmpUsers(name=name, token=token)),
        api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token)),
    ):
        assert len(listed) == 1
        lease = listed[0]
        assert isinstance(lease, akeyless.TmpUserData)
        assert lease.id == value["id"]
        assert lease.access_id == value["access_key_id"]
        assert lease.dynamic_secret_type == "aws"
        assert isinstance(lease.creation_date, datetime.datetime)
        assert lease.custom_ttl == 60


def test_revoke_by_id_kills_the_key_and_the_user(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    doomed, kept = fetch(api, token, name), fetch(api, token, name)

    api.gateway_revoke_tmp_users(akeyless.GatewayRevokeTmpUsers(name=name, tmp_creds_id=doomed["id"], token=token))

    assert lease_ids(api, token, name) == {kept["id"]}
    sts = aws.client("sts", doomed["access_key_id"], doomed["secret_access_key"])
    assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"
    admin = aws.client("iam")
    assert aws_error_code(lambda: admin.get_user(UserName=doomed["user_name"])) == "NoSuchEntity"
    # The other lease is untouched.
    aws.client("sts", kept["access_key_id"], kept["secret_access_key"]).get_caller_identity()


def test_revoke_by_id_new_name(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)
    api.dynamic_secret_tmp_creds_delete(
        akeyless.DynamicSecretTmpCredsDelete(name=name, tmp_creds_id=value["id"], token=token)
    )
    assert lease_ids(api, token, name) == set()
    sts = aws.client("sts", value["access_key_id"], value["secret_access_key"])
    assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"


def test_revoke_all(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    values = [fetch(api, token, name) for _ in range(3)]
    assert len(lease_ids(api, token, name)) == 3

    api.dynamic_secret_tmp_creds_delete(akeyless.DynamicSecretTmpCredsDelete(name=name, revoke_all=True, token=token))

    assert lease_ids(api, token, name) == set()
    admin = aws.client("iam")
    for value in values:
        sts = aws.client("sts", value["access_key_id"], value["secret_access_key"])
        assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"
        assert aws_error_code(lambda: admin.get_user(UserName=value["user_name"])) == "NoSuchEntity"


def test_revoke_all_old_name_leaves_other_secrets_alone(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    other = create_iam_user_secret(api, token, target, aws)
    fetch(api, token, name)
    survivor = fetch(api, token, other)

    api.gateway_revoke_tmp_users(akeyless.GatewayRevokeTmpUsers(name=name, revoke_all=True, token=token))

    assert lease_ids(api, token, name) == set()
    assert lease_ids(api, token, other) == {survivor["id"]}
    aws.client("sts", survivor["access_key_id"], survivor["secret_access_key"]).get_caller_identity()


def test_revoke_unknown_id_is_404(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_tmp_creds_delete(
            akeyless.DynamicSecretTmpCredsDelete(name=name, tmp_creds_id="no-such-lease", token=token)
        )
    assert err.value.status == 404
    assert "no-such-lease" in error_body(err.value)["error"]


def test_revoke_without_id_or_all_is_400(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_tmp_creds_delete(akeyless.DynamicSecretTmpCredsDelete(name=name, token=token))
    assert err.value.status == 400
    assert "tmp-creds-id" in error_body(err.value)["error"]


def _raw_lease(api, token, name, lease_id) -> dict:
    resp = api.dynamic_secret_tmp_creds_get(
        akeyless.DynamicSecretTmpCredsGet(name=name, token=token), _preload_content=False
    )
    return next(lease for lease in json.loads(resp.data) if lease["id"] == lease_id)


def test_update_ttl_changes_the_listed_expiry(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)
    (lease,) = api.gateway_get_tmp_users(akeyless.GatewayGetTmpUsers(name=name, token=token))
    assert lease.custom_ttl == 60

    # The SDK insists on `host` for this call; the lease's host is what it lists.
    api.gateway_update_tmp_users(
        akeyless.GatewayUpdateTmpUsers(name=name, tmp_creds_id=value["id"], new_ttl_min=7, host=lease.host, token=token)
    )
    (lease,) = api.gateway_get_tmp_users(akeyless.GatewayGetTmpUsers(name=name, token=token))
    assert lease.custom_ttl == 7
    assert 6 < expiry_minutes_from_now(_raw_lease(api, token, name, value["id"])["expiration"]) <= 7

    api.dynamic_secret_tmp_creds_update(
        akeyless.DynamicSecretTmpCredsUpdate(
            name=name, tmp_creds_id=value["id"], new_ttl_min=120, host=lease.host, token=token
        )
    )
    (lease,) = api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token))
    assert lease.custom_ttl == 120
    assert 119 < expiry_minutes_from_now(_raw_lease(api, token, name, value["id"])["expiration"]) <= 120
    # Extending does not touch the key itself.
    aws.client("sts", value["access_key_id"], value["secret_access_key"]).get_caller_identity()


def test_update_ttl_to_zero_is_400(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_tmp_creds_update(
            akeyless.DynamicSecretTmpCredsUpdate(name=name, tmp_creds_id=value["id"], new_ttl_min=0, host="-", token=token)
        )
    assert err.value.status == 400
    assert "new-ttl-min" in error_body(err.value)["error"]


def test_value_of_unknown_secret_is_404(api, token):
    name = unique("/pytest/no-such-secret")
    with pytest.raises(akeyless.ApiException) as err:
        fetch(api, token, name)
    assert err.value.status == 404
    assert name in error_body(err.value)["error"]


def test_deleting_a_secret_revokes_its_users(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = fetch(api, token, name)
    api.dynamic_secret_delete(akeyless.DynamicSecretDelete(name=name, token=token))
    sts = aws.client("sts", value["access_key_id"], value["secret_access_key"])
    assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"
