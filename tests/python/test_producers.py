"""AWS dynamic secret (producer) CRUD and validation, both SDK naming generations."""

import json

import akeyless
import pytest

from helpers import create_iam_user_secret, error_body, unique


def ttl_seconds(ttl: str) -> int:
    """'60m' / '1h' / '3600s' → 3600 (the gateway may normalise the unit)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if ttl[-1] in units:
        return int(ttl[:-1]) * units[ttl[-1]]
    return int(ttl)


def producer_names(listing: akeyless.GetProducersListReplyObj) -> set[str]:
    return {p.name for p in listing.producers}


def assert_no_admin_secret(api_method, request, aws):
    raw = api_method(request, _preload_content=False).data.decode()
    assert aws.admin_secret not in raw


def test_producer_round_trip_old_names(api, token, target, aws):
    name = unique("/pytest/old/producer")
    created = api.gateway_create_producer_aws(
        akeyless.GatewayCreateProducerAws(
            name=name,
            target_name=target,
            access_mode="iam_user",
            aws_user_policies=aws.policy_arn,
            aws_user_groups=aws.group_name,
            user_ttl="45m",
            token=token,
        )
    )
    assert isinstance(created, akeyless.GatewayCreateProducerAwsOutput)
    details = created.producer_details
    assert isinstance(details, akeyless.DSProducerDetails)
    assert details.dynamic_secret_name == name
    assert details.dynamic_secret_type == "aws"
    assert details.aws_access_mode == "iam_user"
    assert details.aws_user_policies == aws.policy_arn
    assert details.aws_user_groups == aws.group_name
    assert details.user_ttl == "45m"
    assert details.aws_user_programmatic_access is True
    assert details.aws_user_console_access is False
    assert details.delete_protection is False
    assert [a.target_name for a in details.item_targets_assoc] == [target]
    assert details.aws_secret_access_key in (None, "")

    got = api.gateway_get_producer(akeyless.GatewayGetProducer(name=name, token=token))
    assert isinstance(got, akeyless.DSProducerDetails)
    assert got.dynamic_secret_name == name
    assert got.dynamic_secret_id == details.dynamic_secret_id
    assert_no_admin_secret(api.gateway_get_producer, akeyless.GatewayGetProducer(name=name, token=token), aws)

    listed = api.gateway_list_producers(akeyless.GatewayListProducers(token=token))
    assert isinstance(listed, akeyless.GetProducersListReplyObj)
    assert name in producer_names(listed)
    entry = next(p for p in listed.producers if p.name == name)
    assert entry.type == "aws" and entry.active is True

    new_name = unique("/pytest/old/producer-renamed")
    updated = api.gateway_update_producer_aws(
        akeyless.GatewayUpdateProducerAws(
            name=name,
            new_name=new_name,
            target_name=target,
            access_mode="iam_user",
            aws_user_policies=aws.policy_arn,
            aws_user_groups="",
            user_ttl="2h",
            token=token,
        )
    )
    assert isinstance(updated, akeyless.GatewayUpdateProducerAwsOutput)
    assert updated.producer_details.dynamic_secret_name == new_name
    assert updated.producer_details.user_ttl == "2h"
    assert updated.producer_details.aws_user_groups == ""
    got = api.gateway_get_producer(akeyless.GatewayGetProducer(name=new_name, token=token))
    assert got.user_ttl == "2h" and got.dynamic_secret_id == details.dynamic_secret_id
    with pytest.raises(akeyless.ApiException) as err:
        api.gateway_get_producer(akeyless.GatewayGetProducer(name=name, token=token))
    assert err.value.status == 404

    deleted = api.gateway_delete_producer(akeyless.GatewayDeleteProducer(name=new_name, token=token))
    assert isinstance(deleted, akeyless.GatewayDeleteProducerOutput)
    assert deleted.producer_name == new_name
    assert new_name not in producer_names(api.gateway_list_producers(akeyless.GatewayListProducers(token=token)))
    with pytest.raises(akeyless.ApiException) as err:
        api.gateway_get_producer(akeyless.GatewayGetProducer(name=new_name, token=token))
    assert err.value.status == 404
    assert new_name in error_body(err.value)["error"]


def test_producer_round_trip_new_names(api, token, target, aws):
    name = unique("/pytest/new/producer")
    created = api.dynamic_secret_create_aws(
        akeyless.DynamicSecretCreateAws(
            name=name,
            target_name=target,
            access_mode="iam_user",
            aws_user_policies=aws.policy_arn,
            tags=["team:pytest", "env:test"],
            description="made by test_producer_round_trip_new_names",
            token=token,
        )
    )
    assert isinstance(created, akeyless.DynamicSecretCreateOutput)
    details = created.dynamic_secret_details
    assert details.dynamic_secret_name == name
    assert ttl_seconds(details.user_ttl) == 3600  # the SDK's default user-ttl, "60m"
    assert details.aws_access_key_id == aws.admin_key_id
    assert sorted(details.tags) == ["env:test", "team:pytest"]

    got = api.dynamic_secret_get(akeyless.DynamicSecretGet(name=name, token=token))
    assert got.dynamic_secret_name == name
    assert got.aws_user_policies == aws.policy_arn
    assert_no_admin_secret(api.dynamic_secret_get, akeyless.DynamicSecretGet(name=name, token=token), aws)

    assert name in producer_names(api.dynamic_secret_list(akeyless.DynamicSecretList(token=token)))

    updated = api.dynamic_secret_update_aws(
        akeyless.DynamicSecretUpdateAws(
            name=name,
            target_name=target,
            access_mode="iam_user",
            aws_user_policies=aws.policy_arn,
            aws_user_groups=aws.group_name,
            user_ttl="90m",
            token=token,
        )
    )
    assert isinstance(updated, akeyless.DynamicSecretUpdateOutput)
    assert updated.dynamic_secret_details.user_ttl == "90m"
    assert updated.dynamic_secret_details.aws_user_groups == aws.group_name
    assert api.dynamic_secret_get(akeyless.DynamicSecretGet(name=name, token=token)).user_ttl == "90m"

    deleted = api.dynamic_secret_delete(akeyless.DynamicSecretDelete(name=name, token=token))
    assert isinstance(deleted, akeyless.DynamicSecretDeleteOutput)
    assert deleted.dynamic_secret_name == name
    assert name not in producer_names(api.dynamic_secret_list(akeyless.DynamicSecretList(token=token)))


def test_string_booleans_and_numbers_come_back_typed(api, token, target, aws):
    name = create_iam_user_secret(
        api, token, target, aws,
        delete_protection="true",
        aws_user_console_access=True,
        password_length="17",
        use_special_characters="false",
    )
    got = api.dynamic_secret_get(akeyless.DynamicSecretGet(name=name, token=token))
    assert got.delete_protection is True
    assert got.aws_user_console_access is True
    assert got.password_length == 17
    raw = json.loads(api.dynamic_secret_get(akeyless.DynamicSecretGet(name=name, token=token), _preload_content=False).data)
    assert raw["delete_protection"] is True and raw["password_length"] == 17


def test_assume_role_spelling_is_accepted(api, token, target, aws):
    name = unique("/pytest/spelling/ds")
    created = api.gateway_create_producer_aws(
        akeyless.GatewayCreateProducerAws(
            name=name, target_name=target, access_mode="assume_role", aws_role_arns=aws.role_arn,
            user_ttl="15m", token=token,
        )
    )
    assert created.producer_details.aws_access_mode in ("assumed_role", "assume_role")
    assert created.producer_details.aws_role_arns == aws.role_arn


def test_duplicate_producer_name_is_refused(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    with pytest.raises(akeyless.ApiException) as err:
        create_iam_user_secret(api, token, target, aws, name=name)
    assert 400 <= err.value.status < 500
    assert name in error_body(err.value)["error"]


# --------------------------------------------------------------------------
# validation errors surface as ApiException with the field named


def test_unknown_target_is_400(api, token, aws):
    missing = unique("/pytest/no-such-target")
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(
                name=unique("/pytest/errors/ds"), target_name=missing, access_mode="iam_user", token=token
            )
        )
    assert err.value.status == 400
    message = error_body(err.value)["error"]
    assert "target-name" in message and missing in message


def test_unknown_access_mode_is_400(api, token, target):
    with pytest.raises(akeyless.ApiException) as err:
        api.gateway_create_producer_aws(
            akeyless.GatewayCreateProducerAws(
                name=unique("/pytest/errors/ds"), target_name=target, access_mode="saml_token", token=token
            )
        )
    assert err.value.status == 400
    assert "access-mode" in error_body(err.value)["error"]


@pytest.mark.parametrize("ttl", ["5m", "899s", "13h"])
def test_assumed_role_ttl_out_of_range_is_400(api, token, target, aws, ttl):
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(
                name=unique("/pytest/errors/ds"), target_name=target, access_mode="assumed_role",
                aws_role_arns=aws.role_arn, user_ttl=ttl, token=token,
            )
        )
    assert err.value.status == 400
    assert "user-ttl" in error_body(err.value)["error"]


def test_assumed_role_ttl_bounds_are_inclusive(api, token, target, aws):
    for ttl in ("15m", "12h"):
        created = api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(
                name=unique("/pytest/bounds/ds"), target_name=target, access_mode="assumed_role",
                aws_role_arns=aws.role_arn, user_ttl=ttl, token=token,
            )
        )
        assert created.dynamic_secret_details.user_ttl == ttl


def test_malformed_ttl_is_400(api, token, target):
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(
                name=unique("/pytest/errors/ds"), target_name=target, access_mode="iam_user",
                user_ttl="soon", token=token,
            )
        )
    assert err.value.status == 400
    assert "user-ttl" in error_body(err.value)["error"]


def test_missing_name_is_400(lax_api, token, target):
    # The SDK refuses a missing name itself unless client-side validation is off.
    with pytest.raises(ValueError):
        akeyless.DynamicSecretCreateAws(target_name=target, access_mode="iam_user", token=token)
    for call, model in (
        (lax_api.dynamic_secret_create_aws, akeyless.DynamicSecretCreateAws),
        (lax_api.gateway_create_producer_aws, akeyless.GatewayCreateProducerAws),
    ):
        request = model(target_name=target, access_mode="iam_user", token=token,
                        local_vars_configuration=lax_api.api_client.configuration)
        with pytest.raises(akeyless.ApiException) as err:
            call(request)
        assert err.value.status == 400
        assert "'name'" in error_body(err.value)["error"]


def test_empty_name_is_400(api, token, target):
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(name="", target_name=target, access_mode="iam_user", token=token)
        )
    assert err.value.status == 400
    assert "name" in error_body(err.value)["error"]


def test_missing_access_mode_is_400(api, token, target):
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_create_aws(
            akeyless.DynamicSecretCreateAws(name=unique("/pytest/errors/ds"), target_name=target, token=token)
        )
    assert err.value.status == 400
    assert "access-mode" in error_body(err.value)["error"]


def test_update_of_unknown_producer_is_404(api, token, target):
    name = unique("/pytest/errors/absent")
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_update_aws(
            akeyless.DynamicSecretUpdateAws(name=name, target_name=target, access_mode="iam_user", token=token)
        )
    assert err.value.status == 404
    assert name in error_body(err.value)["error"]
