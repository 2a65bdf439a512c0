//! The operation table: every CLI operation, its flags as the Akeyless CLI names them, and the
//! wire key each flag is sent as when it differs from the flag name.
//!
//! Only values the user typed are sent; the gateway applies the documented defaults
//! (`user-ttl: "60m"`, `aws-user-programmatic-access: true`, ...) to absent keys. Updates are
//! the exception: the client sends the current settings with the given flags changed
//! ([`Behaviour::UpdateProducer`], [`Behaviour::UpdateTarget`]).

use super::spec::{
    bool_text, boolean, choice, int, list, string, Behaviour, Flag, Mode, Operation,
};

const CONNECTION_HEADING: &str = "Connection";
const OUTPUT_HEADING: &str = "Output";

/// Client-side settings accepted by every gateway operation.
const CONNECTION: &[Flag] = &[
    string(
        "gateway-url",
        "gateway URL, e.g. https://gw.example.com:8000 (default http://127.0.0.1:8000)",
    )
    .local()
    .heading(CONNECTION_HEADING),
    string(
        "profile",
        "profile to read credentials from (default \"default\")",
    )
    .local()
    .heading(CONNECTION_HEADING),
    string("ca-file", "PEM file of a CA to trust for an HTTPS gateway")
        .local()
        .heading(CONNECTION_HEADING),
];

/// An explicit token skips the automatic authentication.
const TOKEN: &[Flag] = &[
    string(
        "token",
        "authentication token (default: authenticate with the profile)",
    )
    .secret()
    .heading(CONNECTION_HEADING),
    string("uid-token", "universal identity token")
        .secret()
        .heading(CONNECTION_HEADING),
];

/// The formats of `--format`.
pub const FORMATS: &[&str] = &["json", "table", "env", "credential-process"];

/// How the answer is printed.
const OUTPUT: &[Flag] = &[
    choice(
        "format",
        FORMATS,
        "how to print the answer (default json; env: export lines; credential-process: for the AWS CLI)",
    )
    .local()
    .conflicts(&["field", "jq-expression"])
    .heading(OUTPUT_HEADING),
    string("field", "print only this field of the answer, unquoted")
        .local()
        .conflicts(&["jq-expression"])
        .heading(OUTPUT_HEADING),
    string(
        "jq-expression",
        "filter the answer with a jq expression; strings print unquoted",
    )
    .local()
    .heading(OUTPUT_HEADING),
    boolean("json", "accepted for compatibility; JSON is the default")
        .local()
        .conflicts(&["format"])
        .heading(OUTPUT_HEADING),
];

const NAME: &[Flag] = &[string("name", "item name (a path, e.g. /prod/aws/dev)")
    .short('n')
    .required()];

const NEW_NAME: &[Flag] = &[string("new-name", "rename the item")];

const AUTH: &[Flag] = &[
    string(
        "access-id",
        "access id (default: env DYNSEC_ACCESS_ID or the profile)",
    ),
    string(
        "access-key",
        "access key (default: env DYNSEC_ACCESS_KEY or the profile)",
    )
    .secret(),
    string("access-type", "authentication method (default access_key)"),
];

const CONFIGURE: &[Flag] = &[
    string("access-id", "access id to save").local(),
    string("access-key", "access key to save").local().secret(),
    string(
        "access-type",
        "authentication method; only access_key is supported",
    )
    .local(),
    string("gateway-url", "gateway URL to save").local(),
    string("profile", "profile name (default \"default\")").local(),
    string(
        "ca-file",
        "PEM file of a CA to trust while checking the key",
    )
    .local(),
    boolean(
        "no-verify",
        "save without first checking the key against the gateway",
    )
    .local(),
];

const STATUS: &[Flag] = &[
    string(
        "access-id",
        "access id (default: env DYNSEC_ACCESS_ID or the profile)",
    )
    .local(),
    string(
        "access-key",
        "access key (default: env DYNSEC_ACCESS_KEY or the profile)",
    )
    .local()
    .secret(),
];

const AWS_TARGET: &[Flag] = &[
    string("access-key-id", "AWS access key id of the admin user"),
    string("access-key", "AWS secret access key of the admin user").secret(),
    string(
        "session-token",
        "AWS session token (temporary admin credentials only)",
    )
    .secret(),
    string("region", "AWS region (default us-east-2)"),
    string(
        "iam-endpoint",
        "IAM endpoint URL (default: AWS, or the gateway's AWS_ENDPOINT_URL_IAM)",
    ),
    string(
        "sts-endpoint",
        "STS endpoint URL (default: AWS, or the gateway's AWS_ENDPOINT_URL_STS)",
    ),
    boolean(
        "use-gw-cloud-identity",
        "use the gateway host's own AWS identity (its default credential chain); no key stored",
    ),
    string(
        "role-arn",
        "with --use-gw-cloud-identity: a role the gateway's identity assumes",
    ),
    boolean(
        "generate-external-id",
        "with --role-arn: assume it with an external id the gateway generates (see get-target)",
    ),
    boolean(
        "enable-admin-rotation",
        "rotate the admin key every --admin-rotation-interval-days (dynsec extension on targets)",
    ),
    int(
        "admin-rotation-interval-days",
        "days between scheduled admin-key rotations",
    ),
    string("description", "description of the target"),
    string("key", "protection key name"),
    bool_text("delete_protection", "protect the target from deletion"),
];

const SHOW_VERSIONS: &[Flag] = &[boolean("show-versions", "include all versions")];

const TARGET_DETAILS: &[Flag] = &[int("target-version", "target version")];

const LIST_TARGETS: &[Flag] = &[
    string("filter", "only targets whose name contains this"),
    list("type", "only targets of this type (e.g. aws)"),
    PAGINATION_TOKEN,
];

const DELETE_TARGET: &[Flag] = &[
    boolean(
        "force-deletion",
        "delete even if dynamic secrets use the target",
    ),
    int("target-version", "target version"),
];

const AWS_PRODUCER: &[Flag] = &[
    string("target-name", "name of an existing AWS target"),
    string(
        "aws-access-mode",
        "iam_user, assumed_role (also assume_role), federation_token or session_token",
    )
    .wire("access-mode"),
    string("access-mode", "same as --aws-access-mode"),
    string("aws-user-policies", "policy ARNs, comma-separated"),
    string("aws-user-groups", "IAM group names, comma-separated"),
    string(
        "aws-role-arns",
        "role ARNs for assumed_role mode, comma-separated",
    ),
    string("aws-access-key-id", "inline target: admin access key id"),
    string(
        "aws-access-secret-key",
        "inline target: admin secret access key",
    )
    .secret(),
    string(
        "aws-region",
        "inline target: AWS region (default us-east-2)",
    )
    .wire("region"),
    string("region", "same as --aws-region"),
    string("iam-endpoint", "inline target: IAM endpoint URL"),
    string("sts-endpoint", "inline target: STS endpoint URL"),
    boolean(
        "aws-user-programmatic-access",
        "issue an access key (default true)",
    ),
    boolean(
        "aws-user-console-access",
        "issue a console password (default false)",
    ),
    string("password-length", "console password length"),
    bool_text(
        "use-capital-letters",
        "console password uses capital letters",
    ),
    bool_text(
        "use-lower-letters",
        "console password uses lower-case letters",
    ),
    bool_text("use-numbers", "console password uses digits"),
    bool_text(
        "use-special-characters",
        "console password uses special characters",
    ),
    string(
        "user-ttl",
        "lifetime of issued credentials, e.g. 60m (default 60m)",
    ),
    bool_text(
        "delete_protection",
        "protect the dynamic secret from deletion",
    ),
    string("producer-encryption-key-name", "protection key name"),
    list("tag", "tag to attach").wire("tags"),
    string("description", "description of the dynamic secret"),
    string(
        "custom-username-template",
        "iam_user: template for user names, e.g. ci-{{name}}-{{access_id}} ({{lease_id}} appended when absent)",
    ),
    string(
        "permissions-boundary-arn",
        "iam_user: managed policy ARN set as each user's permissions boundary",
    ),
    string(
        "aws-user-tags",
        "iam_user: extra IAM tags on each user, k=v,k2=v2",
    ),
    string(
        "aws-user-inline-policy",
        "iam_user: JSON policy document put on each user as its inline policy",
    ),
    string(
        "session-policy-arns",
        "assumed_role, federation_token: managed session policy ARNs, comma-separated",
    ),
    string(
        "session-policy",
        "assumed_role, federation_token: JSON session policy document",
    ),
    string(
        "max-ttl",
        "longest any credential may live, extensions included, e.g. 8h",
    ),
    string("aws-external-id", "external id for AssumeRole"),
    string(
        "mfa-serial",
        "session_token: the admin user's MFA device; get-value then needs --args mfa-code=<code>",
    ),
    int(
        "secure-access-delay",
        "longest wait, 0-120 s, for a new credential to be seen working (default 0)",
    ),
    bool_text(
        "early-revocation",
        "assumed_role: revoking denies the session through the role's inline policy (default false)",
    ),
    string("session-tags", "AssumeRole session tags, k=v,k2=v2"),
    string(
        "transitive-tag-keys",
        "transitive session tag keys, space-separated",
    ),
    boolean(
        "enable-admin-rotation",
        "rotate the inline connection's admin key every --admin-rotation-interval-days",
    ),
    int(
        "admin-rotation-interval-days",
        "days between scheduled admin-key rotations",
    ),
];

const GET_VALUE: &[Flag] = &[
    list(
        "args",
        "argument k=v or a JSON object, e.g. role-arn=<arn>, mfa-code=<code>",
    ),
    string("target", "target name to use").not_yet(
        "choosing a target per request is not supported yet (the dynamic secret's own connection is used)",
    ),
    int("timeout", "seconds to wait for the value (default 15)").not_yet_except(
        &["15"],
        "a custom timeout is not supported yet (issuance runs to completion)",
    ),
];

const REVOKE_TMP_CREDS: &[Flag] = &[
    string("tmp-creds-id", "id of the temporary credential"),
    boolean(
        "revoke-all",
        "revoke every credential of the dynamic secret",
    ),
    boolean(
        "soft-delete",
        "forget the credential without deleting it in AWS (for one that cannot be revoked)",
    ),
];

const UPDATE_TMP_CREDS: &[Flag] = &[
    string("tmp-creds-id", "id of the temporary credential").required(),
    int("new-ttl-min", "new lifetime in minutes"),
];

const LEASES_UNDER: &[Flag] =
    &[string("path", "a dynamic secret or folder, e.g. /prod (/ for all)").required()];

const LIST_LEASES: &[Flag] = &[
    string("pagination-token", "continue a previous listing"),
    int("limit", "leases per page (default 100, at most 1000)"),
];

const LIST_ITEMS: &[Flag] = &[
    string("path", "folder to list, e.g. /prod/aws"),
    list("type", "item type, e.g. dynamic-secret"),
    string("filter", "only items whose name contains this"),
    string("tag", "only items with this tag"),
    boolean(
        "current-folder",
        "only the items directly in the folder, no sub-folders",
    ),
    PAGINATION_TOKEN,
];

/// One page of a listing instead of all of them.
const PAGINATION_TOKEN: Flag = string(
    "pagination-token",
    "print only the page this token (a previous answer's next_page) starts; default: every page",
);

const LIST_TMP_CREDS: &[Flag] = &[
    int(
        "limit",
        "at most this many credentials, newest first (1-1000, default 1000)",
    ),
    string(
        "after",
        "continue after this credential id (the last one a previous answer listed)",
    ),
];

const DELETE_ITEM: &[Flag] = &[
    boolean(
        "delete-immediately",
        "delete now rather than after the grace period",
    ),
    int("delete-in-days", "days until deletion"),
];

const DFC_KEY: &[Flag] = &[
    string("alg", "key algorithm: AES256GCM (default)"),
    int(
        "split-level",
        "number of fragments the gateway stores (1-3, default 1)",
    ),
    string(
        "customer-frg-id",
        "customer fragment completing the key (see `dynsec gateway create-customer-fragment`)",
    ),
    string("description", "description of the key"),
    bool_text("delete_protection", "protect the key from deletion"),
];

const AUTH_METHOD: &[Flag] = &[
    int(
        "access-expires",
        "unix time after which the key stops working (0 = never)",
    ),
    list(
        "bound-ips",
        "CIDR the caller must come from (repeatable or comma-separated)",
    ),
    int(
        "jwt-ttl",
        "token lifetime in minutes (default: the gateway's)",
    ),
    string("description", "description"),
    bool_text("delete_protection", "protect the auth method from deletion"),
];

const ROLE: &[Flag] = &[
    string("description", "description"),
    string("comment", "description (older name)"),
];

const ROLE_RULE: &[Flag] = &[
    string("role-name", "role name").short('r').required(),
    string("path", "path pattern; * matches anything").required(),
    list(
        "capability",
        "read|create|update|delete|list|reveal|deny (repeatable)",
    ),
    string(
        "rule-type",
        "item-rule (default), target-rule, role-rule, auth-method-rule",
    ),
];

const ROLE_RULE_DELETE: &[Flag] = &[
    string("role-name", "role name").short('r').required(),
    string("path", "path pattern of the rule").required(),
    string(
        "rule-type",
        "item-rule (default), target-rule, role-rule, auth-method-rule",
    ),
];

const ASSOC: &[Flag] = &[
    string("role-name", "role name").short('r').required(),
    string("am-name", "auth method name").short('a').required(),
];

const ASSOC_ID: &[Flag] = &[string("assoc-id", "association id").required()];

const FILTER: &[Flag] = &[
    string("filter", "only names containing this text"),
    PAGINATION_TOKEN,
];

const PERMISSIONS: &[Flag] = &[
    string("path", "the object's path, e.g. /prod/aws/dev").required(),
    string(
        "type",
        "item (dynamic secrets, protection keys), target, role or am",
    )
    .required(),
];

const fn op(
    names: &'static [&'static str],
    summary: &'static str,
    groups: &'static [&'static [Flag]],
) -> Operation {
    Operation {
        names,
        summary,
        mode: Mode::Authenticated,
        behaviour: Behaviour::Plain,
        groups,
    }
}

/// An operation that [`Behaviour`] extends.
const fn op_with(
    names: &'static [&'static str],
    summary: &'static str,
    behaviour: Behaviour,
    groups: &'static [&'static [Flag]],
) -> Operation {
    Operation {
        names,
        summary,
        mode: Mode::Authenticated,
        behaviour,
        groups,
    }
}

/// Every operation the CLI knows, in help order.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        names: &["configure"],
        summary: "check a key against the gateway and save it with the URL to a local profile",
        mode: Mode::Configure,
        behaviour: Behaviour::Plain,
        groups: &[CONFIGURE],
    },
    Operation {
        names: &["status"],
        summary: "show the gateway, its version, who you are and your token's expiry",
        mode: Mode::Status,
        behaviour: Behaviour::Plain,
        groups: &[STATUS, CONNECTION, OUTPUT],
    },
    Operation {
        names: &["auth"],
        summary: "authenticate and print a token",
        mode: Mode::Auth,
        behaviour: Behaviour::Plain,
        groups: &[AUTH, CONNECTION, OUTPUT],
    },
    op(
        &["create-aws-target", "target-create-aws"],
        "create an AWS target (admin credentials)",
        &[NAME, AWS_TARGET, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["update-aws-target", "target-update-aws"],
        "change an AWS target's settings (the others are kept)",
        Behaviour::UpdateTarget,
        &[NAME, NEW_NAME, AWS_TARGET, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["get-target", "target-get"],
        "show a target",
        &[NAME, SHOW_VERSIONS, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["get-target-details", "target-get-details"],
        "show a target with its credentials",
        &[
            NAME,
            SHOW_VERSIONS,
            TARGET_DETAILS,
            CONNECTION,
            TOKEN,
            OUTPUT,
        ],
    ),
    op_with(
        &["list-targets", "target-list"],
        "list targets",
        Behaviour::Listing,
        &[LIST_TARGETS, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["delete-target", "target-delete"],
        "delete a target",
        &[NAME, DELETE_TARGET, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["target-rotate-admin-key"],
        "rotate a target's admin access key now (dynsec extension)",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["dynamic-secret-rotate-admin-key"],
        "rotate the admin access key of a dynamic secret's inline connection now (dynsec extension)",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["gateway-create-producer-aws", "dynamic-secret-create-aws"],
        "create an AWS dynamic secret",
        &[NAME, AWS_PRODUCER, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["gateway-update-producer-aws", "dynamic-secret-update-aws"],
        "change an AWS dynamic secret's settings (the others are kept)",
        Behaviour::UpdateProducer,
        &[NAME, NEW_NAME, AWS_PRODUCER, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["gateway-get-producer", "dynamic-secret-get"],
        "show a dynamic secret",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["gateway-list-producers", "dynamic-secret-list"],
        "list dynamic secrets",
        Behaviour::Listing,
        &[FILTER, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["gateway-delete-producer", "dynamic-secret-delete"],
        "delete a dynamic secret",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["get-dynamic-secret-value", "dynamic-secret-get-value"],
        "issue temporary AWS credentials",
        Behaviour::IssueCredentials,
        &[NAME, GET_VALUE, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &[
            "gateway-get-producer-tmp-creds",
            "dynamic-secret-tmp-creds-get",
        ],
        "list a dynamic secret's live credentials",
        &[NAME, LIST_TMP_CREDS, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &[
            "gateway-revoke-producer-tmp-creds",
            "dynamic-secret-tmp-creds-delete",
        ],
        "revoke live credentials",
        Behaviour::RevokeTmpCreds,
        &[NAME, REVOKE_TMP_CREDS, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &[
            "gateway-update-producer-tmp-creds",
            "dynamic-secret-tmp-creds-update",
        ],
        "change a live credential's lifetime",
        Behaviour::UpdateTmpCredsTtl,
        &[NAME, UPDATE_TMP_CREDS, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["list-leases"],
        "list the live credentials of every dynamic secret under a path",
        &[LEASES_UNDER, LIST_LEASES, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["revoke-leases"],
        "revoke every live credential under a path (incident response)",
        &[LEASES_UNDER, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["list-items"],
        "list items and folders",
        Behaviour::Listing,
        &[LIST_ITEMS, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["describe-item"],
        "show an item",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["delete-item"],
        "delete an item",
        &[NAME, DELETE_ITEM, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["create-dfc-key"],
        "create a protection key (list: list-items --type key; delete: delete-item)",
        &[NAME, DFC_KEY, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["rotate-master-key"],
        "replace the gateway's master key, re-wrapping every data key",
        &[CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["auth-method-create-api-key", "create-auth-method"],
        "create an API-key auth method (prints its access key once)",
        &[NAME, AUTH_METHOD, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["auth-method-get", "get-auth-method"],
        "show an auth method",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["auth-method-list", "list-auth-methods"],
        "list auth methods",
        Behaviour::Listing,
        &[FILTER, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["auth-method-delete", "delete-auth-method"],
        "delete an auth method and its tokens",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["create-role"],
        "create a role",
        &[NAME, ROLE, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["get-role"],
        "show a role, its rules and auth methods",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op_with(
        &["list-roles"],
        "list roles",
        Behaviour::Listing,
        &[FILTER, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["delete-role"],
        "delete a role",
        &[NAME, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["set-role-rule"],
        "grant capabilities on a path pattern",
        &[ROLE_RULE, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["delete-role-rule"],
        "remove a rule from a role",
        &[ROLE_RULE_DELETE, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["assoc-role-am"],
        "associate a role with an auth method",
        &[ASSOC, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["delete-assoc"],
        "remove a role association",
        &[ASSOC_ID, CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["validate-token"],
        "show whether a token is valid, whose it is and when it expires",
        &[CONNECTION, TOKEN, OUTPUT],
    ),
    op(
        &["describe-permissions"],
        "show the capabilities your roles grant on a path",
        &[PERMISSIONS, CONNECTION, TOKEN, OUTPUT],
    ),
];

/// The operation called `name` (any of its names).
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.names.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn operation_names_are_unique() {
        let mut seen = HashSet::new();
        for name in OPERATIONS.iter().flat_map(|op| op.names.iter()) {
            assert!(seen.insert(*name), "duplicate operation {name}");
        }
        assert!(seen.contains("gateway-create-producer-aws"));
        for local in ["gateway", "completion", "help"] {
            assert!(!seen.contains(local), "`{local}` is a command of its own");
        }
    }

    #[test]
    fn flag_names_and_shorts_are_unique_per_operation() {
        for op in OPERATIONS {
            let mut names = HashSet::new();
            let mut shorts = HashSet::from(['h']);
            for flag in op.flags() {
                assert!(
                    names.insert(flag.name),
                    "{}: duplicate --{}",
                    op.names[0],
                    flag.name
                );
                if let Some(c) = flag.short {
                    assert!(shorts.insert(c), "{}: duplicate -{c}", op.names[0]);
                }
                for other in flag.conflicts {
                    assert!(
                        op.flags().any(|f| f.name == *other),
                        "{}: --{} conflicts with unknown --{other}",
                        op.names[0],
                        flag.name
                    );
                }
            }
        }
    }

    #[test]
    fn aliases_resolve_to_the_same_operation() {
        let a = find("create-aws-target").map(|op| op as *const Operation);
        let b = find("target-create-aws").map(|op| op as *const Operation);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert!(find("no-such-op").is_none());
    }

    /// The table and the gateway agree: every operation the gateway serves has a command, and
    /// every command that posts an operation names one the gateway serves.
    #[test]
    fn table_covers_exactly_the_served_operations() {
        let served: BTreeSet<&str> = dynsec_api::SERVED_OPERATIONS.iter().copied().collect();
        let sent: BTreeSet<&str> = OPERATIONS
            .iter()
            .filter(|op| matches!(op.mode, Mode::Auth | Mode::Authenticated))
            .flat_map(|op| op.names.iter().copied())
            .collect();
        let missing: Vec<_> = served.difference(&sent).collect();
        let unknown: Vec<_> = sent.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "served but not in the CLI table: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "in the CLI table but not served: {unknown:?}"
        );
    }

    #[test]
    fn secrets_are_strings_and_not_yet_flags_say_why() {
        for op in OPERATIONS {
            for flag in op.flags() {
                if flag.secret {
                    assert_eq!(flag.kind, crate::cli::spec::Kind::Str, "--{}", flag.name);
                }
                if let Some(not_yet) = flag.not_yet {
                    assert!(not_yet.why.contains("not supported yet"), "--{}", flag.name);
                    assert!(!flag.required, "--{}", flag.name);
                }
            }
        }
    }
}
