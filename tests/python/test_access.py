"""Auth methods, roles and protection keys through the unmodified SDK: the
models parse, and a role's path rules decide what a second API key may do."""

import akeyless
import pytest
from dateutil import parser as dateparser

from helpers import error_body, unique


def test_auth_method_lifecycle_both_generations(api, token):
    name = unique("/pytest/am/ci")
    created = api.auth_method_create_api_key(
        akeyless.AuthMethodCreateApiKey(name=name, bound_ips=["127.0.0.1/32"], jwt_ttl=15, token=token)
    )
    assert created.access_id.startswith("p-") and created.access_key

    got = api.auth_method_get(akeyless.AuthMethodGet(name=name, token=token))
    assert isinstance(got, akeyless.AuthMethod)
    assert got.auth_method_access_id == created.access_id
    assert got.access_info.cidr_whitelist == "127.0.0.1/32"
    assert got.access_info.jwt_ttl == 15
    assert created.access_key not in str(got.to_dict())

    legacy_name = unique("/pytest/am/legacy")
    legacy = api.create_auth_method(akeyless.CreateAuthMethod(name=legacy_name, token=token))
    listed = api.list_auth_methods(akeyless.ListAuthMethods(token=token)).auth_methods
    assert {name, legacy_name} <= {m.auth_method_name for m in listed}
    assert {name, legacy_name} <= {m.auth_method_name for m in api.auth_method_list(akeyless.AuthMethodList(token=token)).auth_methods}

    # The new key authenticates; deleting the method ends that.
    api.auth(akeyless.Auth(access_id=legacy.access_id, access_key=legacy.access_key))
    api.delete_auth_method(akeyless.DeleteAuthMethod(name=legacy_name, token=token))
    api.auth_method_delete(akeyless.AuthMethodDelete(name=name, token=token))
    with pytest.raises(akeyless.ApiException) as err:
        api.auth(akeyless.Auth(access_id=legacy.access_id, access_key=legacy.access_key))
    assert err.value.status == 401


def test_role_rules_govern_another_key(api, token, target):
    am_name = unique("/pytest/am/dev")
    role = unique("/pytest/roles/dev")
    folder = unique("/pytest/dev")
    am = api.auth_method_create_api_key(akeyless.AuthMethodCreateApiKey(name=am_name, token=token))
    api.create_role(akeyless.CreateRole(name=role, token=token))
    api.set_role_rule(akeyless.SetRoleRule(role_name=role, path=f"{folder}/*", capability=["read", "create", "list"], token=token))
    api.set_role_rule(akeyless.SetRoleRule(role_name=role, path=target, capability=["read"], rule_type="target-rule", token=token))
    assoc = api.assoc_role_auth_method(akeyless.AssocRoleAuthMethod(role_name=role, am_name=am_name, token=token))
    assert assoc.assoc_id

    got = api.get_role(akeyless.GetRole(name=role, token=token))
    assert isinstance(got, akeyless.Role)
    rules = {(r.path, r.type): sorted(r.capabilities) for r in got.rules.path_rules}
    assert rules[(f"{folder}/*", "item-rule")] == ["create", "list", "read"]
    assert rules[(target, "target-rule")] == ["read"]
    assert [a.auth_method_name for a in got.role_auth_methods_assoc] == [am_name]
    assert role in {r.role_name for r in api.list_roles(akeyless.ListRoles(token=token)).roles}

    dev = api.auth(akeyless.Auth(access_id=am.access_id, access_key=am.access_key)).token
    mine = f"{folder}/app"
    api.gateway_create_producer_aws(
        akeyless.GatewayCreateProducerAws(name=mine, target_name=target, access_mode="iam_user", token=dev)
    )
    with pytest.raises(akeyless.ApiException) as err:
        api.gateway_create_producer_aws(
            akeyless.GatewayCreateProducerAws(name=unique("/pytest/other/app"), target_name=target, access_mode="iam_user", token=dev)
        )
    assert err.value.status == 403
    assert "access denied" in error_body(err.value)["error"]
    with pytest.raises(akeyless.ApiException) as err:
        api.get_target_details(akeyless.GetTargetDetails(name=target, token=dev))
    assert err.value.status == 403

    # Rules and associations come off again.
    api.delete_role_rule(akeyless.DeleteRoleRule(role_name=role, path=f"{folder}/*", token=token))
    with pytest.raises(akeyless.ApiException) as err:
        api.describe_item(akeyless.DescribeItem(name=mine, token=dev))
    assert err.value.status == 403
    api.delete_role_association(akeyless.DeleteRoleAssociation(assoc_id=assoc.assoc_id, token=token))
    api.delete_role(akeyless.DeleteRole(name=role, token=token))
    with pytest.raises(akeyless.ApiException) as err:
        api.get_role(akeyless.GetRole(name=role, token=token))
    assert err.value.status == 404


def test_protection_key_protects_a_target(api, token, aws):
    key = unique("/pytest/keys/k")
    created = api.create_dfc_key(akeyless.CreateDFCKey(name=key, alg="AES256GCM", token=token))
    assert created.fragment_results == []
    name = unique("/pytest/targets/protected")
    api.create_aws_target(
        akeyless.CreateAWSTarget(name=name, access_key_id=aws.admin_key_id, access_key=aws.admin_secret, key=key, token=token)
    )
    details = api.get_target_details(akeyless.GetTargetDetails(name=name, token=token))
    assert details.value.aws_target_details.aws_secret_access_key == aws.admin_secret
    assert api.get_target(akeyless.GetTarget(name=name, token=token)).protection_key_name == key
    with pytest.raises(akeyless.ApiException) as err:
        api.create_aws_target(
            akeyless.CreateAWSTarget(name=unique("/pytest/targets/x"), access_key_id="A", access_key="B", key="/no/such/key", token=token)
        )
    assert err.value.status == 400
    assert "key" in error_body(err.value)["error"]


def test_validate_token_and_describe_permissions(api, token):
    """What the console asks the gateway about its own session, through the SDK's models."""
    am_name = unique("/pytest/am/viewer")
    role = unique("/pytest/roles/viewer")
    folder = unique("/pytest/viewer")
    am = api.auth_method_create_api_key(akeyless.AuthMethodCreateApiKey(name=am_name, token=token))
    api.create_role(akeyless.CreateRole(name=role, token=token))
    api.set_role_rule(akeyless.SetRoleRule(role_name=role, path=f"{folder}/*", capability=["read", "list"], token=token))
    api.assoc_role_auth_method(akeyless.AssocRoleAuthMethod(role_name=role, am_name=am_name, token=token))
    viewer = api.auth(akeyless.Auth(access_id=am.access_id, access_key=am.access_key)).token

    status = api.validate_token(akeyless.ValidateToken(token=viewer))
    assert isinstance(status, akeyless.ValidateTokenOutput)
    assert status.is_valid is True
    assert 0 < status.ttl <= 3600
    dateparser.parse(status.expiration)
    refused = api.validate_token(akeyless.ValidateToken(token="t-not-a-real-token"))
    assert refused.is_valid is False and refused.reason

    perms = api.describe_permissions(akeyless.DescribePermissions(path=f"{folder}/app", type="item", token=viewer))
    assert isinstance(perms, akeyless.DescribePermissionsOutput)
    assert perms.client_permissions == ["read", "list"]
    elsewhere = api.describe_permissions(akeyless.DescribePermissions(path="/elsewhere/app", type="item", token=viewer))
    assert elsewhere.client_permissions == []
