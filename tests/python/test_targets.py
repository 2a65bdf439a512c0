"""AWS target CRUD through both SDK naming generations."""

import datetime
import json

import akeyless
import pytest

from helpers import REGION, error_body, unique


def raw_json(api_method, request) -> dict:
    """Call an SDK method and return the undecoded JSON (to check what is NOT sent)."""
    resp = api_method(request, _preload_content=False)
    return json.loads(resp.data)


def target_names(listing: akeyless.ListTargetsOutput) -> set[str]:
    return {t.target_name for t in listing.targets}


def test_target_round_trip_old_names(api, token, aws):
    name = unique("/pytest/old/target")
    created = api.create_aws_target(
        akeyless.CreateAWSTarget(
            name=name,
            access_key_id=aws.admin_key_id,
            access_key=aws.admin_secret,
            region=REGION,
            description="first description",
            token=token,
        )
    )
    assert isinstance(created.target_id, int) and created.target_id > 0

    got = api.get_target(akeyless.GetTarget(name=name, token=token))
    assert isinstance(got, akeyless.Target)
    assert got.target_name == name
    assert got.target_id == created.target_id
    assert got.target_type == "aws"
    assert got.comment == "first description"
    assert isinstance(got.creation_date, datetime.datetime)
    assert isinstance(got.modification_date, datetime.datetime)
    assert got.delete_protection is False
    # get-target must never reveal the secret, in any field.
    assert aws.admin_secret not in json.dumps(raw_json(api.get_target, akeyless.GetTarget(name=name, token=token)))

    details = api.get_target_details(akeyless.GetTargetDetails(name=name, token=token))
    assert isinstance(details, akeyless.GetTargetDetailsOutput)
    assert details.target.target_name == name
    aws_details = details.value.aws_target_details
    assert aws_details.aws_access_key_id == aws.admin_key_id
    assert aws_details.aws_secret_access_key == aws.admin_secret
    assert aws_details.aws_region == REGION

    assert name in target_names(api.list_targets(akeyless.ListTargets(token=token)))
    assert aws.admin_secret not in json.dumps(raw_json(api.list_targets, akeyless.ListTargets(token=token)))

    new_name = unique("/pytest/old/renamed")
    api.update_aws_target(
        akeyless.UpdateAWSTarget(
            name=name,
            new_name=new_name,
            access_key_id=aws.admin_key_id,
            access_key=aws.admin_secret,
            region="eu-west-1",
            description="second description",
            token=token,
        )
    )
    renamed = api.get_target(akeyless.GetTarget(name=new_name, token=token))
    assert renamed.target_id == created.target_id
    assert renamed.comment == "second description"
    assert (
        api.get_target_details(akeyless.GetTargetDetails(name=new_name, token=token)).value.aws_target_details.aws_region
        == "eu-west-1"
    )
    with pytest.raises(akeyless.ApiException) as err:
        api.get_target(akeyless.GetTarget(name=name, token=token))
    assert err.value.status == 404

    api.delete_target(akeyless.DeleteTarget(name=new_name, token=token))
    assert new_name not in target_names(api.list_targets(akeyless.ListTargets(token=token)))
    with pytest.raises(akeyless.ApiException) as err:
        api.get_target(akeyless.GetTarget(name=new_name, token=token))
    assert err.value.status == 404
    error_body(err.value)


def test_target_round_trip_new_names(api, token, aws):
    name = unique("/pytest/new/target")
    created = api.target_create_aws(
        akeyless.TargetCreateAws(
            name=name,
            access_key_id=aws.admin_key_id,
            access_key=aws.admin_secret,
            region=REGION,
            description="made with target-create-aws",
            delete_protection="false",
            token=token,
        )
    )
    assert isinstance(created, akeyless.TargetCreateOutput)
    assert created.target_id > 0

    got = api.target_get(akeyless.TargetGet(name=name, token=token))
    assert got.target_name == name and got.target_type == "aws"
    assert got.comment == "made with target-create-aws"
    assert aws.admin_secret not in json.dumps(raw_json(api.target_get, akeyless.TargetGet(name=name, token=token)))

    details = api.target_get_details(akeyless.TargetGetDetails(name=name, token=token))
    assert details.value.aws_target_details.aws_secret_access_key == aws.admin_secret

    listed = api.target_list(akeyless.TargetList(token=token))
    assert name in target_names(listed)
    assert name in target_names(api.target_list(akeyless.TargetList(filter=name, token=token)))

    updated = api.target_update_aws(
        akeyless.TargetUpdateAws(
            name=name,
            access_key_id=aws.admin_key_id,
            access_key=aws.admin_secret,
            region="ap-south-1",
            description="updated",
            token=token,
        )
    )
    assert isinstance(updated, akeyless.TargetUpdateOutput)
    assert updated.target_id == created.target_id
    assert api.target_get(akeyless.TargetGet(name=name, token=token)).comment == "updated"
    assert (
        api.target_get_details(akeyless.TargetGetDetails(name=name, token=token)).value.aws_target_details.aws_region
        == "ap-south-1"
    )

    api.target_delete(akeyless.TargetDelete(name=name, token=token))
    assert name not in target_names(api.target_list(akeyless.TargetList(token=token)))


def test_duplicate_target_name_is_refused(api, token, aws, target):
    with pytest.raises(akeyless.ApiException) as err:
        api.target_create_aws(
            akeyless.TargetCreateAws(
                name=target, access_key_id=aws.admin_key_id, access_key=aws.admin_secret, token=token
            )
        )
    assert 400 <= err.value.status < 500
    assert target in error_body(err.value)["error"]


def _target_used_by_a_producer(api, token, target) -> str:
    producer = unique("/pytest/in-use/ds")
    api.dynamic_secret_create_aws(
        akeyless.DynamicSecretCreateAws(name=producer, target_name=target, access_mode="iam_user", token=token)
    )
    assoc = api.target_get(akeyless.TargetGet(name=target, token=token)).target_items_assoc
    assert [a.item_name for a in assoc] == [producer]
    return producer


def test_target_in_use_is_not_deleted(api, token, target):
    producer = _target_used_by_a_producer(api, token, target)
    with pytest.raises(akeyless.ApiException) as err:
        api.target_delete(akeyless.TargetDelete(name=target, token=token))
    assert err.value.status == 409
    assert producer in error_body(err.value)["error"]
    assert target in target_names(api.target_list(akeyless.TargetList(token=token)))


def test_target_in_use_is_deleted_with_its_dynamic_secrets_when_forced(api, token, target):
    producer = _target_used_by_a_producer(api, token, target)
    api.target_delete(akeyless.TargetDelete(name=target, force_deletion=True, token=token))
    assert target not in target_names(api.target_list(akeyless.TargetList(token=token)))
    producers = api.gateway_list_producers(akeyless.GatewayListProducers(token=token)).producers or []
    assert producer not in [p.name for p in producers]


def test_get_unknown_target_is_404(api, token):
    name = unique("/pytest/nope")
    with pytest.raises(akeyless.ApiException) as err:
        api.target_get_details(akeyless.TargetGetDetails(name=name, token=token))
    assert err.value.status == 404
    assert name in error_body(err.value)["error"]
