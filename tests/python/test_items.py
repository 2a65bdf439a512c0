"""Items and virtual folders: list-items, describe-item, delete-item."""

import datetime

import akeyless
import pytest

from helpers import aws_error_code, create_iam_user_secret, error_body, unique


def test_list_items_shows_items_and_immediate_subfolders(api, token, target, aws):
    root = unique("/pytest/tree")
    direct = create_iam_user_secret(api, token, target, aws, name=f"{root}/app/direct")
    create_iam_user_secret(api, token, target, aws, name=f"{root}/app/db/nested")
    create_iam_user_secret(api, token, target, aws, name=f"{root}/app/db/deeper/leaf")
    create_iam_user_secret(api, token, target, aws, name=f"{root}/web/other")

    listing = api.list_items(akeyless.ListItems(path=f"{root}/app", token=token))
    assert isinstance(listing, akeyless.ListItemsInPathOutput)
    assert [i.item_name for i in listing.items] == [direct]
    assert listing.folders == [f"{root}/app/db"]

    item = listing.items[0]
    assert item.item_type == "DYNAMIC_SECRET"
    assert item.item_sub_type == "aws"
    assert [a.target_name for a in item.item_targets_assoc] == [target]
    assert item.item_general_info.dynamic_secret_producer_details.producer_type == "aws"

    top = api.list_items(akeyless.ListItems(path=root, token=token))
    assert top.items == [] or top.items is None
    assert sorted(top.folders) == [f"{root}/app", f"{root}/web"]

    assert "/pytest" in api.list_items(akeyless.ListItems(path="/", token=token)).folders

    typed = api.list_items(akeyless.ListItems(path=f"{root}/app", type=["dynamic-secret"], token=token))
    assert [i.item_name for i in typed.items] == [direct]


def test_list_items_pages_follow_next_page_with_the_sdk(api, token, target, aws):
    """Pages of the gateway's default size (100): the SDK's pagination_token walks the rest."""
    root = unique("/pytest/paged")
    names = {create_iam_user_secret(api, token, target, aws, name=f"{root}/s{i:03}") for i in range(103)}
    first = api.list_items(akeyless.ListItems(path=root, token=token))
    assert len(first.items) == 100
    assert first.has_next is True and first.next_page
    second = api.list_items(akeyless.ListItems(path=root, pagination_token=first.next_page, token=token))
    assert len(second.items) == 3
    assert not second.next_page and second.has_next is False
    seen = [i.item_name for i in first.items + second.items]
    assert len(seen) == len(set(seen)) and set(seen) == names

    # current_folder: the items directly in it, no sub-folders.
    create_iam_user_secret(api, token, target, aws, name=f"{root}/zz/nested")
    tail = api.list_items(akeyless.ListItems(path=root, pagination_token=first.next_page, token=token))
    assert tail.folders == [f"{root}/zz"]
    only = api.list_items(
        akeyless.ListItems(path=root, pagination_token=first.next_page, current_folder=True, token=token)
    )
    assert not only.folders and len(only.items) == 3


def test_list_items_path_is_tolerant_of_a_trailing_slash(api, token, target, aws):
    root = unique("/pytest/slash")
    name = create_iam_user_secret(api, token, target, aws, name=f"{root}/only")
    listing = api.list_items(akeyless.ListItems(path=f"{root}/", token=token))
    assert [i.item_name for i in listing.items] == [name]


def test_describe_item(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws, user_ttl="25m", tags=["k:v"], delete_protection="true")
    item = api.describe_item(akeyless.DescribeItem(name=name, token=token))
    assert isinstance(item, akeyless.Item)
    assert item.item_name == name
    assert item.item_id == api.dynamic_secret_get(akeyless.DynamicSecretGet(name=name, token=token)).dynamic_secret_id
    assert item.item_type == "DYNAMIC_SECRET"
    assert item.item_tags == ["k:v"]
    assert item.delete_protection is True
    assert isinstance(item.creation_date, datetime.datetime)
    assert item.item_general_info.dynamic_secret_producer_details.user_ttl == "25m"


def test_describe_unknown_item_is_404(api, token):
    name = unique("/pytest/absent")
    with pytest.raises(akeyless.ApiException) as err:
        api.describe_item(akeyless.DescribeItem(name=name, token=token))
    assert err.value.status == 404
    assert name in error_body(err.value)["error"]


def test_delete_item_honours_delete_protection(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws, delete_protection="true")

    with pytest.raises(akeyless.ApiException) as err:
        api.delete_item(akeyless.DeleteItem(name=name, token=token))
    assert err.value.status == 409
    assert "delete protection" in error_body(err.value)["error"]
    # The other deletion paths refuse as well.
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_delete(akeyless.DynamicSecretDelete(name=name, token=token))
    assert err.value.status == 409
    assert api.describe_item(akeyless.DescribeItem(name=name, token=token)).item_name == name

    api.dynamic_secret_update_aws(
        akeyless.DynamicSecretUpdateAws(
            name=name, target_name=target, access_mode="iam_user", aws_user_policies=aws.policy_arn,
            delete_protection="false", token=token,
        )
    )
    deleted = api.delete_item(akeyless.DeleteItem(name=name, delete_immediately=True, token=token))
    assert isinstance(deleted, akeyless.DeleteItemOutput)
    assert deleted.item_name == name
    assert isinstance(deleted.item_id, int)
    with pytest.raises(akeyless.ApiException) as err:
        api.describe_item(akeyless.DescribeItem(name=name, token=token))
    assert err.value.status == 404


def test_delete_item_revokes_outstanding_credentials(api, token, target, aws):
    name = create_iam_user_secret(api, token, target, aws)
    value = api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token))
    api.delete_item(akeyless.DeleteItem(name=name, token=token))
    admin = aws.client("iam")
    assert aws_error_code(lambda: admin.get_user(UserName=value["user_name"])) == "NoSuchEntity"
