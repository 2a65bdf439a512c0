//! The OpenAPI 3 document of every served operation, `GET
//! /api/v2/openapi.json`.
//!
//! Each operation's request body is the schema utoipa derives from the very
//! struct its handler parses (`ToSchema` beside `Deserialize` in the area's
//! module), plus the `token` every operation but `auth` carries. [`request_of`]
//! names that struct for every [`Op`] in one exhaustive `match`: a new
//! operation does not compile until it names its request type, and a test
//! checks that every name in [`SERVED_OPERATIONS`] has a path. Answers are
//! documented as JSON on success (their status per operation) and as
//! `{"error": "..."}` for every failure.

use super::{
    access, auth, introspection, items, keys, leases, producers, rotation, targets, values,
};
use super::{Op, SERVED_OPERATIONS};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::PartialSchema;

/// The token every operation but `auth` carries in its body, as documented
/// (`Call::new` reads it off the body).
// Never deserialized: serde's attributes are what the schema follows.
#[allow(dead_code)]
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct TokenField {
    token: Option<String>,
    #[serde(rename = "uid-token")]
    uid_token: Option<String>,
}

/// What an operation's body is documented as.
struct RequestDoc {
    /// The JSON schema of the struct its handler parses.
    schema: Value,
    /// Whether the body carries a token (every operation but `auth`).
    token: bool,
}

fn schema_of<T: PartialSchema>() -> Value {
    // A derived schema always serializes; an empty object would only
    // document less.
    serde_json::to_value(T::schema()).unwrap_or_else(|_| json!({"type": "object"}))
}

fn with_token<T: PartialSchema>() -> RequestDoc {
    RequestDoc {
        schema: schema_of::<T>(),
        token: true,
    }
}

/// The request type each operation's handler parses. Exhaustive on
/// purpose: an operation added without one does not compile.
fn request_of(op: Op) -> RequestDoc {
    match op {
        Op::Auth => RequestDoc {
            schema: schema_of::<auth::AuthRequest>(),
            token: false,
        },
        Op::CreateTarget | Op::UpdateTarget => with_token::<targets::TargetRequest>(),
        Op::GetTarget | Op::GetTargetDetails | Op::DeleteTarget => {
            with_token::<targets::NameRequest>()
        }
        Op::ListTargets => with_token::<targets::ListRequest>(),
        Op::CreateProducerLegacy
        | Op::CreateDynamicSecret
        | Op::UpdateProducerLegacy
        | Op::UpdateDynamicSecret => with_token::<producers::ProducerRequest>(),
        Op::GetProducer | Op::DeleteProducerLegacy | Op::DeleteDynamicSecret => {
            with_token::<producers::NameRequest>()
        }
        Op::ListProducers => with_token::<producers::ListRequest>(),
        Op::GetValue => with_token::<values::ValueRequest>(),
        Op::ListTmpCreds | Op::RevokeTmpCreds | Op::UpdateTmpCreds => {
            with_token::<leases::TmpCredsRequest>()
        }
        Op::ListLeases | Op::RevokeLeases => with_token::<leases::UnderPathRequest>(),
        Op::ListItems => with_token::<items::ListRequest>(),
        Op::DescribeItem | Op::DeleteItem => with_token::<items::NameRequest>(),
        Op::CreateDfcKey => with_token::<keys::CreateRequest>(),
        Op::CreateAuthMethod => with_token::<access::AuthMethodRequest>(),
        Op::GetAuthMethod
        | Op::ListAuthMethods
        | Op::DeleteAuthMethod
        | Op::CreateRole
        | Op::GetRole
        | Op::ListRoles
        | Op::DeleteRole => with_token::<access::NameRequest>(),
        Op::SetRoleRule | Op::DeleteRoleRule | Op::AssocRoleAm | Op::DeleteAssoc => {
            with_token::<access::RuleRequest>()
        }
        Op::DescribePermissions => with_token::<introspection::PermissionsRequest>(),
        Op::RotateTargetAdminKey | Op::RotateDynamicSecretAdminKey => {
            with_token::<rotation::NameRequest>()
        }
        // The token is the whole request.
        Op::RotateMasterKey | Op::ValidateToken => with_token::<TokenField>(),
    }
}

/// The fields the handler refuses to go without (besides the token), as
/// its "missing required field" errors name them. Some are conditional in
/// the handler (`tmp-creds-id` unless `revoke-all`); those are left out.
fn required_fields(op: Op) -> &'static [&'static str] {
    match op {
        Op::Auth => &["access-id", "access-key"],
        Op::CreateTarget
        | Op::UpdateTarget
        | Op::GetTarget
        | Op::GetTargetDetails
        | Op::DeleteTarget
        | Op::CreateProducerLegacy
        | Op::CreateDynamicSecret
        | Op::UpdateProducerLegacy
        | Op::UpdateDynamicSecret
        | Op::GetProducer
        | Op::DeleteProducerLegacy
        | Op::DeleteDynamicSecret
        | Op::GetValue
        | Op::ListTmpCreds
        | Op::RevokeTmpCreds
        | Op::DescribeItem
        | Op::DeleteItem
        | Op::CreateDfcKey
        | Op::CreateAuthMethod
        | Op::GetAuthMethod
        | Op::DeleteAuthMethod
        | Op::CreateRole
        | Op::GetRole
        | Op::DeleteRole
        | Op::RotateTargetAdminKey
        | Op::RotateDynamicSecretAdminKey => &["name"],
        Op::UpdateTmpCreds => &["name", "tmp-creds-id", "new-ttl-min"],
        Op::SetRoleRule | Op::DeleteRoleRule => &["role-name", "path"],
        Op::AssocRoleAm => &["role-name", "am-name"],
        Op::DeleteAssoc => &["assoc-id"],
        Op::DescribePermissions => &["path", "type"],
        Op::ListLeases | Op::RevokeLeases => &["path"],
        Op::ListTargets
        | Op::ListProducers
        | Op::ListItems
        | Op::ListAuthMethods
        | Op::ListRoles
        | Op::RotateMasterKey
        | Op::ValidateToken => &[],
    }
}

/// The status a success answers (see `ops::handle`).
fn success_status(op: Op) -> &'static str {
    match op {
        Op::CreateProducerLegacy | Op::CreateDynamicSecret => "201",
        _ => "200",
    }
}

/// The body schema: the request type's, with the token's fields merged in
/// and the required fields named.
fn body_schema(doc: RequestDoc, required: &[&str]) -> Value {
    let mut schema = doc.schema;
    let mut names: Vec<&str> = Vec::new();
    if doc.token {
        let token = schema_of::<TokenField>();
        if let (Some(into), Some(from)) = (
            schema.get_mut("properties").and_then(Value::as_object_mut),
            token.get("properties").and_then(Value::as_object),
        ) {
            for (name, field) in from {
                into.entry(name.clone()).or_insert_with(|| field.clone());
            }
        } else if schema.get("properties").is_none() {
            schema = token;
        }
        // The token is required in practice; `uid-token` is its older name.
        names.push("token");
    }
    names.extend(required);
    schema["required"] = json!(names);
    schema
}

fn operation(name: &str, op: Op) -> Value {
    let mut responses = Map::new();
    responses.insert(
        success_status(op).into(),
        json!({
            "description": "The operation's answer.",
            "content": {"application/json": {"schema": {}}},
        }),
    );
    responses.insert(
        "default".into(),
        json!({
            "description": "Refused or failed: 4xx for the request (the message names the field and the reason), 5xx for the gateway or AWS.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }),
    );
    json!({
        "post": {
            "operationId": name,
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": body_schema(request_of(op), required_fields(op))}},
            },
            "responses": responses,
        }
    })
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

fn build() -> Value {
    let mut paths = Map::new();
    for name in SERVED_OPERATIONS {
        if let Some(op) = Op::from_name(name) {
            paths.insert(format!("/api/v2/{name}"), operation(name, op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dynsec",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Akeyless v2 wire-compatible API of the dynsec gateway. Every operation is POST /api/v2/<op> (or POST /<op>) with a JSON body carrying the token from `auth`. Bodies are read leniently, as Akeyless clients send them: booleans may be \"true\"/\"false\", numbers numeric strings, lists comma-separated strings; unknown fields are ignored.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_has_a_documented_path() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        for name in SERVED_OPERATIONS {
            let path = &paths[&format!("/api/v2/{name}")];
            let body = &path["post"]["requestBody"]["content"]["application/json"]["schema"];
            assert!(
                body["properties"].is_object(),
                "{name} documents no request fields: {body}"
            );
            if *name != "auth" {
                assert!(body["properties"]["token"].is_object(), "{name}: {body}");
            }
        }
        assert_eq!(paths.len(), SERVED_OPERATIONS.len());
    }

    #[test]
    fn required_fields_are_fields_of_the_request() {
        let doc = document();
        for name in SERVED_OPERATIONS {
            let body = &doc["paths"][format!("/api/v2/{name}")]["post"]["requestBody"]["content"]
                ["application/json"]["schema"];
            for field in body["required"].as_array().unwrap() {
                let field = field.as_str().unwrap();
                assert!(
                    body["properties"][field].is_object(),
                    "{name} requires '{field}', which its request type lacks: {body}"
                );
            }
        }
    }

    #[test]
    fn bodies_are_the_handlers_request_types() {
        let doc = document();
        let body = |op: &str| {
            doc["paths"][format!("/api/v2/{op}")]["post"]["requestBody"]["content"]
                ["application/json"]["schema"]
                .clone()
        };
        // Akeyless's spellings, as the handlers parse them.
        let producer = body("dynamic-secret-create-aws");
        for field in [
            "name",
            "target-name",
            "aws-user-policies",
            "delete_protection",
        ] {
            assert!(
                producer["properties"][field].is_object(),
                "{field}: {producer}"
            );
        }
        let auth = body("auth");
        assert!(auth["properties"]["access-key"].is_object(), "{auth}");
        assert!(
            auth["properties"]["token"].is_null(),
            "auth carries no token"
        );
        assert_eq!(
            body("gateway-create-producer-aws"),
            body("dynamic-secret-create-aws"),
            "both naming generations document one request"
        );
        let created = &doc["paths"]["/api/v2/dynamic-secret-create-aws"]["post"]["responses"];
        assert!(created["201"].is_object(), "{created}");
    }
}
