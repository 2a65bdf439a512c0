"""Auth and transport: the SDK authenticates and reaches every op with or without /api/v2."""

import akeyless
import pytest
from dateutil import parser as dateparser

from helpers import ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY, error_body, make_api, unique


def test_auth_returns_a_token(api):
    out = api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY))
    assert isinstance(out, akeyless.AuthOutput)
    assert out.token and isinstance(out.token, str)
    # The SDK types expiration as a string; it must at least be a parseable date.
    assert out.expiration
    dateparser.parse(out.expiration)


def test_each_auth_issues_a_usable_token(api):
    first = api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY)).token
    second = api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY)).token
    for token in (first, second):
        assert isinstance(api.list_targets(akeyless.ListTargets(token=token)), akeyless.ListTargetsOutput)


def test_host_without_api_v2_prefix_works(bare_api):
    token = bare_api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY)).token
    assert token
    listed = bare_api.gateway_list_producers(akeyless.GatewayListProducers(token=token))
    assert isinstance(listed.producers, list)


def test_host_with_trailing_slash_works(gateway):
    # The SDK then requests /api/v2//auth: the doubled slash must be tolerated.
    api = make_api(f"{gateway.url}/api/v2/")
    try:
        token = api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key=ADMIN_ACCESS_KEY)).token
        assert isinstance(api.target_list(akeyless.TargetList(token=token)).targets, list)
    finally:
        api.api_client.close()


def test_token_also_accepted_as_uid_token(api, token):
    listed = api.target_list(akeyless.TargetList(uid_token=token))
    assert isinstance(listed.targets, list)


def test_wrong_access_key_is_401(api):
    with pytest.raises(akeyless.ApiException) as err:
        api.auth(akeyless.Auth(access_id=ADMIN_ACCESS_ID, access_key="not-the-right-key-at-all"))
    assert err.value.status == 401
    error_body(err.value)


def test_wrong_token_is_401(api):
    with pytest.raises(akeyless.ApiException) as err:
        api.list_targets(akeyless.ListTargets(token="t-not-a-real-token"))
    assert err.value.status == 401
    assert "token" in error_body(err.value)["error"].lower()


@pytest.mark.parametrize(
    "call",
    [
        lambda api, tok, name: api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=tok)),
        lambda api, tok, name: api.target_get_details(akeyless.TargetGetDetails(name=name, token=tok)),
        lambda api, tok, name: api.dynamic_secret_tmp_creds_delete(
            akeyless.DynamicSecretTmpCredsDelete(name=name, revoke_all=True, token=tok)
        ),
        lambda api, tok, name: api.delete_item(akeyless.DeleteItem(name=name, token=tok)),
    ],
    ids=["get-dynamic-secret-value", "target-get-details", "dynamic-secret-tmp-creds-delete", "delete-item"],
)
def test_sensitive_operations_need_a_valid_token(api, call):
    # Authentication is checked before the item is even looked up.
    with pytest.raises(akeyless.ApiException) as err:
        call(api, "t-forged", unique("/pytest/anything"))
    assert err.value.status == 401


def test_missing_token_is_401(api):
    with pytest.raises(akeyless.ApiException) as err:
        api.gateway_list_producers(akeyless.GatewayListProducers())
    assert err.value.status == 401
    assert "token" in error_body(err.value)["error"].lower()
