"""AWS failing under the gateway: microburst sits between a second gateway and moto and
answers chosen IAM calls with real AWS-shaped errors. What users must see: transient
errors retried away, permanent ones reported with the AWS reason, and no IAM user left
behind by a half-done issuance or a failed revocation."""

import akeyless
import pytest

from helpers import aws_error_code, create_iam_user_secret, error_body, wait_until


def dynsec_users(aws) -> set[str]:
    """Names of the temporary users currently in (emulated) IAM."""
    return {u["UserName"] for u in aws.client("iam").list_users(PathPrefix="/dynsec/")["Users"]}


def lease_ids(api, token, name) -> set[str]:
    return {t.id for t in api.dynamic_secret_tmp_creds_get(akeyless.DynamicSecretTmpCredsGet(name=name, token=token))}


def fetch(api, token, name) -> dict:
    return api.get_dynamic_secret_value(akeyless.GetDynamicSecretValue(name=name, token=token))


def test_throttled_create_user_is_retried(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    chaos.set_rules({"service": "iam", "operation": "CreateUser", "times": 2, "error": {"code": "Throttling"}})

    value = fetch(chaos_api, chaos_token, name)

    assert chaos.fired("CreateUser") == 2
    aws.client("iam", value["access_key_id"], value["secret_access_key"]).list_users()


def test_persistent_throttling_is_503_and_leaves_nothing(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    before = dynsec_users(aws)
    chaos.set_rules({"service": "iam", "operation": "CreateUser", "error": {"code": "Throttling"}})

    with pytest.raises(akeyless.ApiException) as err:
        fetch(chaos_api, chaos_token, name)

    assert err.value.status == 503
    assert "Throttling" in error_body(err.value)["error"]
    assert chaos.fired("CreateUser") >= 2  # the gateway did retry
    chaos.clear()
    assert dynsec_users(aws) == before
    assert lease_ids(chaos_api, chaos_token, name) == set()


def test_failure_after_create_user_rolls_the_user_back(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    before = dynsec_users(aws)
    chaos.set_rules(
        {"service": "iam", "operation": "AttachUserPolicy", "times": 1,
         "error": {"code": "NoSuchEntity", "status": 404, "message": "Policy does not exist"}}
    )

    with pytest.raises(akeyless.ApiException) as err:
        fetch(chaos_api, chaos_token, name)

    assert err.value.status == 400
    assert aws.policy_arn in error_body(err.value)["error"]
    assert chaos.fired("AttachUserPolicy") == 1
    # The user CreateUser made was torn down again, and no lease is left.
    assert dynsec_users(aws) == before
    assert lease_ids(chaos_api, chaos_token, name) == set()
    # With AWS healthy again the secret works.
    value = fetch(chaos_api, chaos_token, name)
    aws.client("sts", value["access_key_id"], value["secret_access_key"]).get_caller_identity()


def revoke_with_delete_user_failing(chaos, api, token, name, lease_id, aws) -> None:
    chaos.set_rules({"service": "iam", "operation": "DeleteUser", "error": {"code": "ServiceFailure"}})
    with pytest.raises(akeyless.ApiException) as err:
        api.dynamic_secret_tmp_creds_delete(akeyless.DynamicSecretTmpCredsDelete(name=name, tmp_creds_id=lease_id, token=token))
    # 503: not done yet, retried automatically (the message says so).
    assert err.value.status == 503
    assert "retried automatically" in error_body(err.value)["error"]
    assert chaos.fired("DeleteUser") >= 1
    chaos.clear()


def test_failed_revocation_kills_the_key_and_is_retried(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    value = fetch(chaos_api, chaos_token, name)

    revoke_with_delete_user_failing(chaos, chaos_api, chaos_token, name, value["id"], aws)

    # The key went before DeleteUser was tried: it is dead already; the user is not.
    sts = aws.client("sts", value["access_key_id"], value["secret_access_key"])
    assert aws_error_code(sts.get_caller_identity) == "InvalidClientTokenId"
    assert value["user_name"] in dynsec_users(aws)
    # The lease stays listed until the revocation is done.
    assert value["id"] in lease_ids(chaos_api, chaos_token, name)

    wait_until(lambda: value["user_name"] not in dynsec_users(aws), 30, "the reaper to finish the revocation")
    wait_until(lambda: value["id"] not in lease_ids(chaos_api, chaos_token, name), 10, "the lease to be dropped")


def test_failed_revocation_is_retried_soon_after_aws_recovers(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    value = fetch(chaos_api, chaos_token, name)

    revoke_with_delete_user_failing(chaos, chaos_api, chaos_token, name, value["id"], aws)

    # First retry is due 1-2 s after the failure; allow generous slack.
    wait_until(lambda: value["user_name"] not in dynsec_users(aws), 15, "the reaper to retry the revocation")


def test_revoke_all_reports_what_is_still_being_revoked(chaos, chaos_api, chaos_token, chaos_target, aws):
    name = create_iam_user_secret(chaos_api, chaos_token, chaos_target, aws)
    values = [fetch(chaos_api, chaos_token, name) for _ in range(2)]
    chaos.set_rules({"service": "iam", "operation": "DeleteUser", "error": {"code": "ServiceFailure"}})

    with pytest.raises(akeyless.ApiException) as err:
        chaos_api.gateway_revoke_tmp_users(
            akeyless.GatewayRevokeTmpUsers(name=name, revoke_all=True, token=chaos_token)
        )
    assert err.value.status == 503
    assert "2 credential(s)" in error_body(err.value)["error"]

    chaos.clear()
    users = {v["user_name"] for v in values}
    wait_until(lambda: not users & dynsec_users(aws), 30, "the reaper to finish the revocations")
    assert lease_ids(chaos_api, chaos_token, name) == set()
