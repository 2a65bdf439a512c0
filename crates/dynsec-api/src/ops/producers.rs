//! AWS dynamic-secret (producer) operations, in both naming generations.

use super::{rfc3339, Call};
use crate::wire::{flex_bool, flex_list, flex_u64};
use crate::ApiError;
use dynsec_core::iam_extensions::{
    parse_tag_pairs, policy_document, MAX_SESSION_POLICY, MAX_USER_INLINE_POLICY,
};
use dynsec_core::spec::parse_session_tags;
use dynsec_core::ttl::{format_ttl, parse_ttl};
use dynsec_core::{AccessMode, AwsConnection, PasswordPolicy, ProducerSettings, SecretString};
use dynsec_engine::{
    Caller, Engine, ProducerInput, ProducerTargetInput, ProducerView, RotationSchedule,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// The create/update request. Defaults mirror what Akeyless clients send.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ProducerRequest {
    name: Option<String>,
    new_name: Option<String>,
    target_name: Option<String>,
    access_mode: Option<String>,
    aws_user_policies: Option<String>,
    aws_user_groups: Option<String>,
    aws_role_arns: Option<String>,
    aws_access_key_id: Option<String>,
    #[schema(value_type = Option<String>)]
    aws_access_secret_key: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    aws_session_token: Option<SecretString>,
    region: Option<String>,
    iam_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    aws_user_programmatic_access: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    aws_user_console_access: Option<bool>,
    #[serde(default, deserialize_with = "flex_u64")]
    password_length: Option<u64>,
    #[serde(default, deserialize_with = "flex_bool")]
    use_capital_letters: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    use_lower_letters: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    use_numbers: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    use_special_characters: Option<bool>,
    user_ttl: Option<String>,
    #[serde(rename = "delete_protection", default, deserialize_with = "flex_bool")]
    delete_protection: Option<bool>,
    producer_encryption_key_name: Option<String>,
    #[serde(default, deserialize_with = "flex_list")]
    tags: Vec<String>,
    description: Option<String>,
    custom_username_template: Option<String>,
    aws_external_id: Option<String>,
    session_tags: Option<String>,
    transitive_tag_keys: Option<String>,
    /// IAM path for temporary users (dynsec extension; default from the gateway).
    iam_path: Option<String>,
    /// Scheduled rotation of the inline connection's admin key.
    #[serde(default, deserialize_with = "flex_bool")]
    enable_admin_rotation: Option<bool>,
    #[serde(default, deserialize_with = "flex_u64")]
    admin_rotation_interval_days: Option<u64>,
    // dynsec extensions (`dynsec_core::iam_extensions`).
    permissions_boundary_arn: Option<String>,
    aws_user_tags: Option<String>,
    aws_user_inline_policy: Option<String>,
    session_policy_arns: Option<String>,
    session_policy: Option<String>,
    max_ttl: Option<String>,
    /// assumed_role: revoke sessions early through the role's policy
    /// (dynsec extension; an update without it keeps the current value).
    #[serde(default, deserialize_with = "flex_bool")]
    early_revocation: Option<bool>,
    /// Seconds issuance may wait for a new credential to work (Akeyless's
    /// 0–120; an update without it keeps the current value).
    #[serde(default, deserialize_with = "flex_u64")]
    secure_access_delay: Option<u64>,
    /// session_token: the admin user's MFA device. Kept and cleared like
    /// `session-policy`.
    mfa_serial: Option<String>,
}

/// An optional setting only dynsec clients send: absent keeps `current`,
/// blank clears it.
fn kept_or_set(given: Option<String>, current: Option<&Option<String>>) -> Option<String> {
    match given {
        Some(value) => blank_none(Some(value)),
        None => current.cloned().flatten(),
    }
}

fn blank_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ProducerRequest {
    fn into_input(
        self,
        name: dynsec_core::ItemPath,
        current: Option<&ProducerView>,
    ) -> Result<ProducerInput, ApiError> {
        let invalid = |e: dynsec_core::ValidationError| ApiError::bad_request(e.to_string());
        let mode_raw = blank_none(self.access_mode)
            .or_else(|| current.map(|c| c.settings.access_mode.as_str().to_string()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "missing required field 'access-mode' (iam_user, assumed_role, federation_token or session_token)",
                )
            })?;
        let access_mode = AccessMode::parse("access-mode", &mode_raw).map_err(invalid)?;
        let ttl_text = self.user_ttl.as_deref().unwrap_or("60m").trim().to_string();
        let ttl_secs = parse_ttl("user-ttl", &ttl_text).map_err(invalid)?;
        let max_ttl_text = blank_none(self.max_ttl).unwrap_or_default();
        let max_ttl_secs = match max_ttl_text.as_str() {
            "" => None,
            text => Some(parse_ttl("max-ttl", text).map_err(invalid)?),
        };
        let policy = |field: &str, raw: Option<String>, max: usize| {
            blank_none(raw)
                .map(|doc| policy_document(field, &doc, max))
                .transpose()
                .map_err(invalid)
        };
        let user_inline_policy = policy(
            "aws-user-inline-policy",
            self.aws_user_inline_policy,
            MAX_USER_INLINE_POLICY,
        )?;
        // Only dynsec clients send it: an update without it keeps the current
        // one, an empty one clears it.
        let session_policy = kept_or_set(
            self.session_policy,
            current.map(|c| &c.settings.session_policy),
        )
        .map(|doc| policy_document("session-policy", &doc, MAX_SESSION_POLICY))
        .transpose()
        .map_err(invalid)?;
        let user_tags =
            parse_tag_pairs("aws-user-tags", self.aws_user_tags.as_deref().unwrap_or(""))
                .map_err(invalid)?;
        let defaults = PasswordPolicy::default();
        let password = PasswordPolicy {
            length: match self.password_length {
                Some(n) => u32::try_from(n)
                    .map_err(|_| ApiError::bad_request("invalid password-length: too large"))?,
                None => defaults.length,
            },
            upper: self.use_capital_letters.unwrap_or(defaults.upper),
            lower: self.use_lower_letters.unwrap_or(defaults.lower),
            digits: self.use_numbers.unwrap_or(defaults.digits),
            symbols: self.use_special_characters.unwrap_or(defaults.symbols),
        };
        let settings = ProducerSettings {
            access_mode,
            user_policies: dynsec_core::spec::split_list(
                self.aws_user_policies.as_deref().unwrap_or(""),
            ),
            user_groups: dynsec_core::spec::split_list(
                self.aws_user_groups.as_deref().unwrap_or(""),
            ),
            role_arns: dynsec_core::spec::split_list(self.aws_role_arns.as_deref().unwrap_or("")),
            programmatic_access: self.aws_user_programmatic_access.unwrap_or(true),
            console_access: self.aws_user_console_access.unwrap_or(false),
            password,
            ttl_secs,
            ttl_text,
            iam_path: blank_none(self.iam_path).unwrap_or_default(),
            external_id: blank_none(self.aws_external_id),
            session_tags: parse_session_tags(self.session_tags.as_deref().unwrap_or(""))
                .map_err(invalid)?,
            transitive_tag_keys: self
                .transitive_tag_keys
                .unwrap_or_default()
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            username_template: blank_none(self.custom_username_template),
            tags: self.tags,
            description: blank_none(self.description)
                .or_else(|| current.map(|c| c.settings.description.clone()))
                .unwrap_or_default(),
            protection_key: blank_none(self.producer_encryption_key_name),
            permissions_boundary_arn: blank_none(self.permissions_boundary_arn),
            user_tags,
            user_inline_policy,
            session_policy_arns: dynsec_core::spec::split_list(
                self.session_policy_arns.as_deref().unwrap_or(""),
            ),
            session_policy,
            max_ttl_secs,
            max_ttl_text,
            early_revocation: self
                .early_revocation
                .or(current.map(|c| c.settings.early_revocation))
                .unwrap_or(false),
            secure_access_delay_secs: self
                .secure_access_delay
                .or(current.map(|c| c.settings.secure_access_delay_secs))
                .unwrap_or(0),
            mfa_serial: kept_or_set(self.mfa_serial, current.map(|c| &c.settings.mfa_serial)),
        };
        let target = match blank_none(self.target_name) {
            Some(target) => ProducerTargetInput::Named(target),
            None if current.is_some_and(|c| c.target.is_some())
                && blank_none(self.aws_access_key_id.clone()).is_none() =>
            {
                // An update that names no connection keeps its target.
                let (_, target_name) = current.and_then(|c| c.target.clone()).unwrap_or_default();
                ProducerTargetInput::Named(target_name)
            }
            None => {
                let access_key_id = blank_none(self.aws_access_key_id).ok_or_else(|| {
                    ApiError::bad_request(
                        "missing required field 'target-name' (or an inline connection: aws-access-key-id, aws-access-secret-key, region)",
                    )
                })?;
                ProducerTargetInput::Inline(AwsConnection {
                    access_key_id,
                    secret_access_key: self.aws_access_secret_key.unwrap_or_default(),
                    session_token: self.aws_session_token.filter(|t| !t.is_empty()),
                    region: blank_none(self.region).unwrap_or_else(|| "us-east-2".into()),
                    iam_endpoint: blank_none(self.iam_endpoint),
                    sts_endpoint: blank_none(self.sts_endpoint),
                })
            }
        };
        // Only an inline connection's own schedule carries over on update.
        let current_schedule = current
            .filter(|c| c.target.is_none())
            .map(|c| (c.admin.rotation_enabled, c.admin.rotation_interval_days));
        let admin_rotation = RotationSchedule {
            enabled: self
                .enable_admin_rotation
                .or(current_schedule.map(|(on, _)| on))
                .unwrap_or(false),
            interval_days: super::targets::interval_days(self.admin_rotation_interval_days)?
                .or(current_schedule.map(|(_, days)| days))
                .unwrap_or(0),
        };
        Ok(ProducerInput {
            admin_rotation,
            name,
            target,
            settings,
            delete_protection: self
                .delete_protection
                .or(current.map(|c| c.delete_protection))
                .unwrap_or(false),
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct NameRequest {
    name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) struct ListRequest {
    filter: Option<String>,
    pagination_token: Option<String>,
}

pub async fn create(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
    wrapper: &str,
) -> Result<Value, ApiError> {
    let req: ProducerRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let view = engine
        .create_producer(caller, req.into_input(name, None)?)
        .await?;
    Ok(json!({ wrapper: details_json(&view) }))
}

pub async fn update(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
    wrapper: &str,
) -> Result<Value, ApiError> {
    let req: ProducerRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    let new_name = match blank_none(req.new_name.clone()) {
        Some(_) => call.path("new-name", &req.new_name)?,
        None => name.clone(),
    };
    let current = engine
        .producer_to_update(caller, &name, &new_name, req.target_name.as_deref())
        .await?;
    let view = engine
        .update_producer(caller, &name, req.into_input(new_name, Some(&current))?)
        .await?;
    Ok(json!({ wrapper: details_json(&view) }))
}

pub async fn get(engine: &Engine, caller: &Caller, call: &mut Call<'_>) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let view = engine
        .get_producer(caller, &call.path("name", &req.name)?)
        .await?;
    Ok(details_json(&view))
}

pub async fn list(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
) -> Result<Value, ApiError> {
    let req: ListRequest = call.fields()?;
    let page = engine
        .list_producers(
            caller,
            req.filter.as_deref().unwrap_or(""),
            req.pagination_token.as_deref(),
        )
        .await?;
    let mut answer = json!({
        "producers": page.items.iter().map(|p| json!({
            "id": p.id,
            "name": p.name,
            "type": "aws",
            "active": true,
            "init": true,
            "failure_message": "",
        })).collect::<Vec<_>>()
    });
    super::page_fields(&mut answer, page.next_page, false);
    Ok(answer)
}

pub async fn delete(
    engine: &Engine,
    caller: &Caller,
    call: &mut Call<'_>,
    key: &str,
) -> Result<Value, ApiError> {
    let req: NameRequest = call.fields()?;
    let name = call.path("name", &req.name)?;
    engine.delete_producer(caller, &name).await?;
    Ok(json!({ key: name.as_str() }))
}

/// The TTL as the user wrote it, or a normalized form for older records.
pub(crate) fn shown_ttl(s: &ProducerSettings) -> String {
    if s.ttl_text.is_empty() {
        format_ttl(s.ttl_secs)
    } else {
        s.ttl_text.clone()
    }
}

/// The Akeyless `DSProducerDetails` object for an AWS dynamic secret. Never
/// carries the admin secret.
pub(crate) fn details_json(p: &ProducerView) -> Value {
    let s = &p.settings;
    let mut value = json!({
        "dynamic_secret_name": p.name,
        "dynamic_secret_type": "aws",
        "dynamic_secret_id": p.id,
        "aws_access_mode": s.access_mode.as_str(),
        "aws_region": p.region,
        "aws_user_policies": s.user_policies.join(","),
        "aws_user_groups": s.user_groups.join(","),
        "aws_role_arns": s.role_arns.join(","),
        "aws_user_console_access": s.console_access,
        "aws_user_programmatic_access": s.programmatic_access,
        "aws_access_key_id": p.admin_access_key_id,
        "user_ttl": shown_ttl(s),
        "tags": s.tags,
        "delete_protection": p.delete_protection,
        "password_length": s.password.length,
        "item_targets_assoc": p.target.iter().map(|(id, name)| json!({
            "target_id": id,
            "target_name": name,
            "target_type": "aws",
        })).collect::<Vec<_>>(),
        "username_template": s.username_template.clone().unwrap_or_default(),
        "aws_external_id": s.external_id.clone().unwrap_or_default(),
        "aws_session_tags": s.session_tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "aws_transitive_tag_keys": s.transitive_tag_keys.join(" "),
        "creation_date": rfc3339(p.created_at),
        "modification_date": rfc3339(p.modified_at),
        // dynsec extensions: every other setting an update replaces (never a
        // secret), so a client can change one and send back the rest.
        "description": s.description,
        "producer_encryption_key_name": s.protection_key.clone().unwrap_or_default(),
        "use_capital_letters": s.password.upper,
        "use_lower_letters": s.password.lower,
        "use_numbers": s.password.digits,
        "use_special_characters": s.password.symbols,
        "iam_path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn.clone().unwrap_or_default(),
        "aws_user_tags": s.user_tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "aws_user_inline_policy": s.user_inline_policy.clone().unwrap_or_default(),
        "session_policy_arns": s.session_policy_arns.join(","),
        "session_policy": s.session_policy.clone().unwrap_or_default(),
        "max_ttl": s.max_ttl_text,
        "early_revocation": s.early_revocation,
        "secure_access_delay": s.secure_access_delay_secs,
        "mfa_serial": s.mfa_serial.clone().unwrap_or_default(),
        "iam_endpoint": p.iam_endpoint.clone().unwrap_or_default(),
        "sts_endpoint": p.sts_endpoint.clone().unwrap_or_default(),
        "active": true,
        "failure_message": "",
    });
    // The connection it uses: its inline one's, or its target's.
    super::targets::admin_rotation_fields(&mut value, &p.admin);
    value
}
