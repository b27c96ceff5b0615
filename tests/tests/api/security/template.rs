//! The deployed side of authorization, read from `template.yaml`: the development verifier is
//! never switched on, API Gateway's scopes for each route agree with the scope the function
//! itself requires (API Gateway lets a route through when the token holds ANY of the route's
//! `AuthorizationScopes`, so a management route lists its own scope and `management:all`, and a
//! connection-side route `sessions:connect` alone), each function's role allows exactly the
//! DynamoDB operations its code makes, where it makes them, and only on application partitions
//! (`dynamodb:LeadingKeys`), the stream consumer reads the table's stream and no item and
//! publishes on the stack's bus alone, and the scheduler may invoke the sweeper and nothing
//! else.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sessions::auth::{Scope, MANAGEMENT_ALL};
use sessions::route::Route;
use sessions::store::layout::{self, INDEX_LIVE};
use uuid::Uuid;

use crate::spec_files::{self, one_or_many};

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    std::fs::read_to_string(path).expect("template.yaml at the workspace root")
}

/// The template's lines without comments (a `#` at the start or after a space).
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let cut = if line.trim_start().starts_with('#') {
                0
            } else {
                line.find(" #").unwrap_or(line.len())
            };
            line[..cut].trim_end().to_string()
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn value_of(line: &str, key: &str) -> Option<String> {
    line.trim()
        .strip_prefix(key)
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// (method, path) → the route's `AuthorizationScopes`, in flow (`[a, b]`) or block style.
fn route_scopes(lines: &[String]) -> BTreeMap<(String, String), Vec<String>> {
    let mut routes = BTreeMap::new();
    let (mut method, mut path) = (None, None);
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if let Some(v) = value_of(line, "Method:") {
            method = Some(v);
        } else if let Some(v) = value_of(line, "Path:") {
            path = Some(v);
        } else if let Some(v) = value_of(line, "AuthorizationScopes:") {
            let mut scopes: Vec<String> = v
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .filter(|s| !s.is_empty())
                .collect();
            while let Some(item) = lines.get(i + 1).and_then(|l| l.trim().strip_prefix("- ")) {
                scopes.push(item.trim().trim_matches('"').to_string());
                i += 1;
            }
            scopes.sort();
            let key = (
                method.take().expect("Method before AuthorizationScopes"),
                path.take().expect("Path before AuthorizationScopes"),
            );
            routes.insert(key, scopes);
        }
        i += 1;
    }
    routes
}

#[test]
fn the_template_never_switches_on_the_development_verifier() {
    for line in code_lines(&template()) {
        assert!(!line.contains("SESSIONS_DEV_JWT"), "{line}");
    }
}

#[test]
fn every_route_is_behind_the_jwt_authorizer() {
    let lines = code_lines(&template());
    assert!(
        lines
            .iter()
            .any(|l| value_of(l, "DefaultAuthorizer:").as_deref() == Some("JwtAuthorizer")),
        "the HttpApi's default authorizer is the JWT authorizer"
    );
    for key in ["issuer:", "audience:", "IdentitySource:"] {
        assert!(
            lines.iter().any(|l| value_of(l, key).is_some()),
            "JwtConfiguration has {key}"
        );
    }
    // Only the Shared Signals transmitter's discovery document and keys are public.
    let public: BTreeSet<String> = Route::SHARED_SIGNALS
        .into_iter()
        .filter(|r| r.scope() == Scope::Public)
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(public.len(), 2);
    let mut path = None;
    for line in &lines {
        if let Some(v) = value_of(line, "Path:") {
            path = Some(v);
        }
        if let Some(v) = value_of(line, "Authorizer:") {
            let opens = v == "NONE" && path.as_ref().is_some_and(|p| public.contains(p));
            assert!(
                v == "JwtAuthorizer" || opens,
                "{path:?}: a route opts out of the authorizer"
            );
        }
    }
}

#[test]
fn the_template_and_the_functions_agree_on_scopes() {
    let expected: BTreeMap<(String, String), Vec<String>> = Route::ALL
        .into_iter()
        .map(|route| {
            // The contract: reads need sessions:read, revokes sessions:write, and the
            // connection side sessions:connect, which management:all does not grant.
            let (contract, accepted): (Scope, &[&str]) = match route.method() {
                "GET" => (Scope::SessionsRead, &["sessions:read", MANAGEMENT_ALL]),
                "DELETE" => (Scope::SessionsWrite, &["sessions:write", MANAGEMENT_ALL]),
                "POST" => (Scope::SessionsConnect, &["sessions:connect"]),
                other => panic!("{route:?}: unexpected method {other}"),
            };
            assert_eq!(route.scope(), contract, "the scope {route:?} requires");
            assert_eq!(route.scope().accepted(), accepted, "what grants {route:?}");
            let mut scopes: Vec<String> = accepted.iter().map(|s| s.to_string()).collect();
            scopes.sort();
            ((route.method().into(), route.path().into()), scopes)
        })
        // The transmitter's management routes take a receiver's token with ssf:manage alone.
        .chain(
            Route::SHARED_SIGNALS
                .into_iter()
                .filter(|r| r.scope() != Scope::Public)
                .map(|route| {
                    assert_eq!(route.scope().accepted(), ["ssf:manage"], "{route:?}");
                    (
                        (route.method().into(), route.path().into()),
                        vec!["ssf:manage".to_string()],
                    )
                }),
        )
        .collect();
    assert_eq!(route_scopes(&code_lines(&template())), expected);
}

// --- least privilege in DynamoDB, per function --------------------------------------------------

/// Where a DynamoDB grant applies: the table's items, or one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum On {
    Table,
    Index(&'static str),
    /// The table's change stream (its records, not its items).
    Stream,
}

/// The functions no route serves: invoked on a schedule (template.yaml's
/// `AWS::Scheduler::Schedule`), by their function name.
const SCHEDULED: &[&str] = &["sweep-sessions"];
/// The functions an SQS queue triggers: the Shared Signals push worker.
const QUEUED: &[&str] = &["ssf-push"];

/// Beside its logs and traces, what each function may do outside DynamoDB: the Shared Signals
/// functions read the signing key's public half (GetPublicKey, at init, for the JWKS and the
/// `kid`); those that send SETs sign with it; the push worker takes its queue's messages and
/// re-enqueues retries and dead letters. Every other function: nothing.
const OTHER_GRANTS: &[(&str, &[(&str, &str)])] = &[
    (
        "ssf-configuration",
        &[("kms:GetPublicKey", "SsfSigningKey")],
    ),
    ("ssf-jwks", &[("kms:GetPublicKey", "SsfSigningKey")]),
    ("ssf-stream", &[("kms:GetPublicKey", "SsfSigningKey")]),
    ("ssf-status", &[("kms:GetPublicKey", "SsfSigningKey")]),
    (
        "ssf-verify",
        &[
            ("kms:GetPublicKey", "SsfSigningKey"),
            ("kms:Sign", "SsfSigningKey"),
        ],
    ),
    (
        "ssf-push",
        &[
            ("kms:GetPublicKey", "SsfSigningKey"),
            ("kms:Sign", "SsfSigningKey"),
            ("sqs:ReceiveMessage", "SsfDeliveryQueue"),
            ("sqs:DeleteMessage", "SsfDeliveryQueue"),
            ("sqs:GetQueueAttributes", "SsfDeliveryQueue"),
            ("sqs:ChangeMessageVisibility", "SsfDeliveryQueue"),
            ("sqs:SendMessage", "SsfDeliveryQueue"),
            ("sqs:SendMessage", "SsfDeadLetterQueue"),
        ],
    ),
    // Publish on the stack's bus, and record the batches it could not publish.
    (
        "session-events",
        &[
            ("events:PutEvents", "SessionEventBus"),
            ("sqs:SendMessage", "SessionEventsFailureQueue"),
        ],
    ),
];

/// [`OTHER_GRANTS`]' row of `name`, as (action, resource) pairs.
fn other_grants(name: &str) -> BTreeSet<(String, String)> {
    OTHER_GRANTS
        .iter()
        .filter(|(row, _)| *row == name)
        .flat_map(|(_, grants)| grants.iter())
        .map(|(action, resource)| {
            (
                action.to_string(),
                json!({"Fn::GetAtt": [resource, "Arn"]}).to_string(),
            )
        })
        .collect()
}

/// The functions the table's change stream invokes (a DynamoDB event source), by function name.
const STREAM_CONSUMERS: &[&str] = &["session-events"];

/// One row per function (named by `Route::name`, then the [`SCHEDULED`] and
/// [`STREAM_CONSUMERS`] ones): every DynamoDB
/// action its role allows, and where. Read from the code, not from the template: the handlers
/// in `shared/src/api/` and the store operations they call (docs/data-model.md lists the calls
/// of each). A transaction is allowed through the single-item actions of its members
/// (`TransactWriteItems` is no IAM action).
const DYNAMODB_GRANTS: &[(&str, &[(&str, On)])] = &[
    (
        "list-sessions",
        &[
            // store::reads::query_sessions: the markers of each shard partition (the table) ...
            ("dynamodb:Query", On::Table),
            // ... the sessions they name, in consistent batches ...
            ("dynamodb:BatchGetItem", On::Table),
            // ... and the application (organization check, watermark).
            ("dynamodb:GetItem", On::Table),
        ],
    ),
    (
        "get-session",
        // store::reads::get_session: the application and the session in one batch.
        &[("dynamodb:BatchGetItem", On::Table)],
    ),
    (
        "revoke-sessions",
        &[
            // store::revoke: the watermark on the application and each shard head, then each
            // session found ...
            ("dynamodb:UpdateItem", On::Table),
            // ... by paging each shard's connected markers ...
            ("dynamodb:Query", On::Table),
            // ... whose markers go.
            ("dynamodb:DeleteItem", On::Table),
        ],
    ),
    (
        "revoke-session",
        &[
            // store::lifecycle::disconnect_session: the session, its connected marker ...
            ("dynamodb:UpdateItem", On::Table),
            ("dynamodb:DeleteItem", On::Table),
            // ... and get_application when the session is missing (404 for which one).
            ("dynamodb:GetItem", On::Table),
        ],
    ),
    (
        "connect-session",
        &[
            // store::lifecycle::connect: one transaction, a ConditionCheck of the shard head
            // and Puts of the session, its markers and the idempotency record ...
            ("dynamodb:ConditionCheckItem", On::Table),
            ("dynamodb:PutItem", On::Table),
            // ... then, for a replay, the session it made (store::reads::get_session, one
            // batch) and the application (its watermark, to read the session as of now), or
            // the application of a connect refused under a revocation.
            ("dynamodb:BatchGetItem", On::Table),
            ("dynamodb:GetItem", On::Table),
        ],
    ),
    (
        "heartbeat-session",
        &[
            // store::lifecycle::heartbeat: the application (its watermark) ...
            ("dynamodb:GetItem", On::Table),
            // ... and one conditional update of the session.
            ("dynamodb:UpdateItem", On::Table),
        ],
    ),
    (
        "disconnect-session",
        // As revoke-session, with the reason `closed`.
        &[
            ("dynamodb:UpdateItem", On::Table),
            ("dynamodb:DeleteItem", On::Table),
            ("dynamodb:GetItem", On::Table),
        ],
    ),
    // The Shared Signals transmitter: discovery and keys touch no table.
    ("ssf-configuration", &[]),
    ("ssf-jwks", &[]),
    (
        "ssf-stream",
        &[
            // store::streams: the organization's streams (list), one stream (read, and before
            // an update or replace), create/update/replace, delete.
            ("dynamodb:Query", On::Table),
            ("dynamodb:GetItem", On::Table),
            ("dynamodb:PutItem", On::Table),
            ("dynamodb:DeleteItem", On::Table),
        ],
    ),
    (
        "ssf-status",
        // The stream, written back with its new status.
        &[
            ("dynamodb:GetItem", On::Table),
            ("dynamodb:PutItem", On::Table),
        ],
    ),
    // The stream the verification SET goes to.
    ("ssf-verify", &[("dynamodb:GetItem", On::Table)]),
    (
        "sweep-sessions",
        &[
            // store::sweep::sweep_timed_out: the live index, silent ones only (never a Scan) ...
            ("dynamodb:Query", On::Index(INDEX_LIVE)),
            // ... then each timed-out session, and its connected marker.
            ("dynamodb:UpdateItem", On::Table),
            ("dynamodb:DeleteItem", On::Table),
        ],
    ),
    (
        "session-events",
        // Lambda's stream event source, with the function's role: the shards, their records.
        &[
            ("dynamodb:DescribeStream", On::Stream),
            ("dynamodb:GetRecords", On::Stream),
            ("dynamodb:GetShardIterator", On::Stream),
            ("dynamodb:ListStreams", On::Stream),
        ],
    ),
    (
        "ssf-push",
        &[
            // ssf::transmitter: the event's organization's streams, and each stream again
            // before a push (it may have been paused, changed or deleted meanwhile).
            ("dynamodb:Query", On::Table),
            ("dynamodb:GetItem", On::Table),
        ],
    ),
];

/// The partition keys a grant may address: application partitions (`ORG#…`) on the table; the
/// live index's own partitions (`LIVE#00`…) on it. Never the application directory (`APPID#…`),
/// the admin CLI's alone. The stream's actions address no item: no pattern applies.
fn leading_keys_pattern(on: On) -> Option<&'static str> {
    match on {
        On::Index(INDEX_LIVE) => Some("LIVE#*"),
        On::Stream => None,
        _ => Some("ORG#*"),
    }
}

fn leading_keys_condition(pattern: &str) -> Value {
    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [pattern]}})
}

/// The functions the rows are for: every route's (the transmitter's serve several routes
/// each), then the scheduled ones, the stream's and the queue-triggered ones.
fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for route in Route::ALL.into_iter().chain(Route::SHARED_SIGNALS) {
        if !names.contains(&route.name()) {
            names.push(route.name());
        }
    }
    names.extend(SCHEDULED.iter().copied());
    names.extend(STREAM_CONSUMERS.iter().copied());
    names.extend(QUEUED.iter().copied());
    names
}

fn expected_grants(name: &str) -> Option<BTreeSet<(String, On)>> {
    DYNAMODB_GRANTS
        .iter()
        .find(|(row, _)| *row == name)
        .map(|(_, grants)| grants.iter().map(|(a, on)| (a.to_string(), *on)).collect())
}

/// Where a `Resource` entry points, if it is the table or one of its indexes.
fn on_of(resource: &Value) -> Option<On> {
    if resource == &json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}) {
        return Some(On::Table);
    }
    if resource == &json!({"Fn::GetAtt": ["SessionsTable", "StreamArn"]})
        || resource == &json!({"Fn::Sub": "${SessionsTable.Arn}/stream/*"})
    {
        return Some(On::Stream);
    }
    let index = resource["Fn::Sub"]
        .as_str()?
        .strip_prefix("${SessionsTable.Arn}/index/")?;
    [INDEX_LIVE]
        .into_iter()
        .find(|known| *known == index)
        .map(On::Index)
}

/// What one role grants: DynamoDB (action, where) pairs, and every other (action, resource).
#[derive(Debug, Default)]
struct Grants {
    dynamodb: BTreeSet<(String, On)>,
    other: BTreeSet<(String, String)>,
}

/// Everything wrong with the template's grants, per function; empty when each function has a
/// role of its own that allows exactly its row of [`DYNAMODB_GRANTS`], every DynamoDB grant
/// under the [`leading_keys_condition`] of where it applies, and the only other role is the
/// scheduler's, which may invoke the sweeper and nothing else.
fn iam_problems(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for kind in [
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::RolePolicy",
    ] {
        for id in spec_files::resources_of_type(t, kind).keys() {
            problems.push(format!(
                "{id}: a {kind} adds grants outside the functions' roles"
            ));
        }
    }

    let functions = spec_files::functions(t);
    let mut roles_used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, function) in &functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        if !function_names().contains(&binary) {
            problems.push(format!(
                "{id} ({binary:?}) serves no route and is neither scheduled, queue-triggered nor the stream's"
            ));
        }
    }
    for name in function_names() {
        let Some(expected) = expected_grants(name) else {
            problems.push(format!("{name}: no row in DYNAMODB_GRANTS"));
            continue;
        };
        let serving: Vec<(&String, &Value)> = functions
            .iter()
            .filter(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == name)
            .collect();
        let [(function_id, function)] = serving[..] else {
            problems.push(format!(
                "{name}: served by {} functions, not one",
                serving.len()
            ));
            continue;
        };
        let props = &function["Properties"];
        for extra in ["Policies", "ManagedPolicyArns", "PermissionsBoundary"] {
            if !props[extra].is_null() {
                problems.push(format!("{name}: the function sets {extra} of its own"));
            }
        }
        let Some(role_id) = props["Role"]["Fn::GetAtt"][0].as_str() else {
            problems.push(format!("{name}: not a role of this stack (!GetAtt X.Arn)"));
            continue;
        };
        roles_used
            .entry(role_id.to_string())
            .or_default()
            .push(function_id.clone());
        let role = &t["Resources"][role_id];
        if role["Type"] != "AWS::IAM::Role" {
            problems.push(format!("{name}: {role_id} is not an AWS::IAM::Role"));
            continue;
        }
        if !role["Properties"]["ManagedPolicyArns"].is_null() {
            problems.push(format!("{name}: {role_id} has managed policies"));
        }
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            != json!([{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }])
        {
            problems.push(format!("{name}: {role_id} is not Lambda's alone to assume"));
        }
        let grants = grants_of(name, &role["Properties"], &mut problems);
        if grants.dynamodb != expected {
            let extra: Vec<_> = grants.dynamodb.difference(&expected).collect();
            let missing: Vec<_> = expected.difference(&grants.dynamodb).collect();
            problems.push(format!(
                "{name}: DynamoDB grants differ from its row: more {extra:?}, fewer {missing:?}"
            ));
        }
        let logs_and_traces: BTreeSet<(String, String)> = [
            (
                "logs:CreateLogStream",
                json!({"Fn::GetAtt": ["FunctionsLogGroup", "Arn"]}),
            ),
            (
                "logs:PutLogEvents",
                json!({"Fn::GetAtt": ["FunctionsLogGroup", "Arn"]}),
            ),
            // X-Ray's write actions have no resource-level permissions: "*" is the only form.
            ("xray:PutTraceSegments", json!("*")),
            ("xray:PutTelemetryRecords", json!("*")),
        ]
        .into_iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .chain(other_grants(name))
        .collect();
        if grants.other != logs_and_traces {
            problems.push(format!(
                "{name}: beside DynamoDB, {:?} instead of its logs and traces",
                grants.other
            ));
        }
    }
    for (role_id, users) in &roles_used {
        if users.len() > 1 {
            problems.push(format!("{role_id} is shared by {users:?}"));
        }
    }
    let schedule_roles = schedule_problems(t, &mut problems);
    for role_id in spec_files::resources_of_type(t, "AWS::IAM::Role").keys() {
        if !roles_used.contains_key(role_id) && !schedule_roles.contains(role_id) {
            problems.push(format!(
                "{role_id}: a role that is neither a function's nor the scheduler's"
            ));
        }
    }
    problems
}

/// Each schedule invokes one [`SCHEDULED`] function, through a role of its own that only
/// EventBridge Scheduler (of this account) may assume and that may invoke that function and
/// nothing else. Returns the schedules' role ids.
fn schedule_problems(t: &Value, problems: &mut Vec<String>) -> BTreeSet<String> {
    let functions = spec_files::functions(t);
    let mut roles = BTreeSet::new();
    let mut invoked = BTreeSet::new();
    for (id, schedule) in spec_files::resources_of_type(t, "AWS::Scheduler::Schedule") {
        let target = &schedule["Properties"]["Target"];
        let Some(function_id) = target["Arn"]["Fn::GetAtt"][0].as_str() else {
            problems.push(format!("{id}: its target is not a function of this stack"));
            continue;
        };
        let binary = functions
            .get(function_id)
            .and_then(|f| f["Metadata"]["BuildProperties"]["Binary"].as_str())
            .unwrap_or_default();
        if !SCHEDULED.contains(&binary) {
            problems.push(format!(
                "{id}: invokes {function_id} ({binary:?}), no scheduled function"
            ));
        }
        invoked.insert(binary.to_string());
        let Some(role_id) = target["RoleArn"]["Fn::GetAtt"][0].as_str() else {
            problems.push(format!("{id}: not a role of this stack (!GetAtt X.Arn)"));
            continue;
        };
        if !roles.insert(role_id.to_string()) {
            problems.push(format!("{role_id} is shared by schedules"));
        }
        let role = &t["Resources"][role_id]["Properties"];
        if !role["ManagedPolicyArns"].is_null() {
            problems.push(format!("{role_id}: has managed policies"));
        }
        if role["AssumeRolePolicyDocument"]["Statement"]
            != json!([{
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }])
        {
            problems.push(format!(
                "{role_id}: not EventBridge Scheduler's alone to assume, for this account"
            ));
        }
        let statements: Vec<Value> = role["Policies"]
            .as_array()
            .map(|policies| {
                policies
                    .iter()
                    .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
                    .collect()
            })
            .unwrap_or_default();
        let allowed: Vec<(Value, Value, Value)> = statements
            .iter()
            .map(|s| {
                (
                    s["Effect"].clone(),
                    s["Action"].clone(),
                    s["Resource"].clone(),
                )
            })
            .collect();
        let only_invoke = vec![(
            json!("Allow"),
            json!(["lambda:InvokeFunction"]),
            json!({"Fn::GetAtt": [function_id, "Arn"]}),
        )];
        if allowed != only_invoke
            || statements
                .iter()
                .any(|s| !s["NotAction"].is_null() || !s["NotResource"].is_null())
        {
            problems.push(format!(
                "{role_id}: may do more than invoke {function_id}: {statements:?}"
            ));
        }
    }
    for name in SCHEDULED {
        if !invoked.contains(*name) {
            problems.push(format!("{name}: no schedule invokes it"));
        }
    }
    roles
}

/// The grants of a role's inline policies, noting any statement that is not a plain Allow or
/// a DynamoDB statement without the LeadingKeys condition of where it applies.
fn grants_of(name: &str, role: &Value, problems: &mut Vec<String>) -> Grants {
    let mut grants = Grants::default();
    let Some(policies) = role["Policies"].as_array() else {
        problems.push(format!("{name}: its role has no inline policies"));
        return grants;
    };
    for statement in policies
        .iter()
        .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
    {
        let sid = statement["Sid"].as_str().unwrap_or("(no Sid)").to_string();
        if statement["Effect"] != "Allow"
            || !statement["NotAction"].is_null()
            || !statement["NotResource"].is_null()
            || !statement["NotPrincipal"].is_null()
        {
            problems.push(format!("{name}: {sid} is not a plain Allow"));
        }
        let actions: Vec<String> = one_or_many(&statement["Action"])
            .iter()
            .map(|a| a.as_str().unwrap_or_default().to_string())
            .collect();
        let resources = one_or_many(&statement["Resource"]);
        let dynamodb = actions
            .iter()
            .filter(|a| a.starts_with("dynamodb:"))
            .count();
        if dynamodb == 0 {
            for action in &actions {
                for resource in &resources {
                    grants.other.insert((action.clone(), resource.to_string()));
                }
            }
            continue;
        }
        if dynamodb != actions.len() {
            problems.push(format!("{name}: {sid} mixes DynamoDB with other services"));
        }
        for resource in &resources {
            let Some(on) = on_of(resource) else {
                problems.push(format!(
                    "{name}: {sid} grants {actions:?} on {resource}, neither the table nor one of its indexes"
                ));
                continue;
            };
            let condition = leading_keys_pattern(on)
                .map(leading_keys_condition)
                .unwrap_or(Value::Null);
            if statement["Condition"] != condition {
                problems.push(format!(
                    "{name}: {sid} lacks exactly the condition {condition} on {on:?}, has {}",
                    statement["Condition"]
                ));
            }
            for action in &actions {
                grants.dynamodb.insert((action.clone(), on));
            }
        }
    }
    grants
}

#[test]
fn each_function_may_do_exactly_what_its_code_does_in_dynamodb() {
    assert_eq!(iam_problems(&spec_files::template()), Vec::<String>::new());
}

#[test]
fn the_expected_table_has_one_row_per_function_and_no_other() {
    let rows: Vec<&str> = DYNAMODB_GRANTS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        rows,
        function_names(),
        "one row per route's function, in Route::ALL's then Route::SHARED_SIGNALS' order, \
         then the scheduled, the stream's and the queue-triggered functions"
    );
}

/// The indexes the rows name are the template table's indexes, and the conditions' patterns
/// match the store's application partitions (on the table) and the live index's partitions (on
/// it), and never the directory items.
#[test]
fn the_conditions_and_the_indexes_match_the_store() {
    let t = spec_files::template();
    let declared: BTreeSet<String> = t["Resources"]["SessionsTable"]["Properties"]
        ["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GSIs")
        .iter()
        .map(|i| i["IndexName"].as_str().expect("IndexName").to_string())
        .collect();
    for (name, grants) in DYNAMODB_GRANTS {
        for (_, on) in *grants {
            if let On::Index(index) = on {
                assert!(declared.contains(*index), "{name}: no index {index}");
            }
        }
    }

    // No wildcard but the trailing one, so StringLike means "starts with".
    let prefix = |on: On| {
        let prefix = leading_keys_pattern(on)
            .expect("an item pattern")
            .strip_suffix('*')
            .expect("a prefix pattern");
        assert!(!prefix.contains(['*', '?']));
        prefix
    };
    let (org, app, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let pk = |key: sessions::store::layout::Item| {
        layout::string_attr(&key, layout::PK)
            .expect("pk")
            .to_string()
    };
    let directory = pk(layout::directory_lookup_key(app));
    let table_items = [
        pk(layout::app_key(org, app)),
        pk(layout::head_key(org, app, 0)),
        pk(layout::head_key(org, app, layout::SHARDS - 1)),
        pk(layout::session_key(org, app, session)),
        pk(layout::idempotency_key(org, app, "retry-1")),
    ];
    for key in &table_items {
        assert!(key.starts_with(prefix(On::Table)), "{key}");
        assert!(!key.starts_with(prefix(On::Index(INDEX_LIVE))), "{key}");
    }
    for shard in 0..layout::LIVE_SHARDS {
        let key = layout::live_partition(shard);
        assert!(key.starts_with(prefix(On::Index(INDEX_LIVE))), "{key}");
        assert!(!key.starts_with(prefix(On::Table)), "{key}");
    }
    assert_eq!(
        layout::live_key(session),
        layout::live_partition(layout::live_shard_of(session))
    );
    for on in [On::Table, On::Index(INDEX_LIVE)] {
        assert!(
            !directory.starts_with(prefix(on)),
            "{directory} under {on:?}"
        );
    }
}

/// A copy of the template in which `change` was applied to the first DynamoDB statement of the
/// role of the function `name`.
fn with_changed_statement(t: &Value, name: &str, change: impl Fn(&mut Value)) -> Value {
    let mut t = t.clone();
    let role = role_id_of(&t, name);
    let statement = t["Resources"][&role]["Properties"]["Policies"]
        .as_array_mut()
        .expect("inline policies")
        .iter_mut()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array_mut()
                .expect("statements")
                .iter_mut()
        })
        .find(|s| {
            one_or_many(&s["Action"])
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.starts_with("dynamodb:")))
        })
        .unwrap_or_else(|| panic!("{name} has a DynamoDB statement"));
    change(statement);
    t
}

fn function_id_of(t: &Value, name: &str) -> String {
    spec_files::functions(t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == name)
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("a function {name}"))
}

fn role_id_of(t: &Value, name: &str) -> String {
    let function = &t["Resources"][function_id_of(t, name)];
    function["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{name}'s role"))
        .to_string()
}

/// The rows against the code itself: every route's handler, driven through the paths that
/// reach the store differently (found, missing, refused, replayed, a cursor mid-list), makes
/// only DynamoDB operations its row allows, and each row's single-item actions are used. A
/// transaction is one `TransactWriteItems` request whatever its members, so it is held to the
/// row's transaction-only actions (`ConditionCheckItem`, `PutItem`) by name.
#[tokio::test]
async fn each_row_covers_what_its_function_does() {
    use sessions::store::DynamoStore;
    use sessions_tests::calls::{counting_client, CallCounter};
    use sessions_tests::{call, config, env};

    let world = sessions_tests::World::new().await;
    let counter = CallCounter::default();
    let table = world.store.table().to_string();
    let api = sessions::api::Api::new(
        &config(&env(&table)),
        DynamoStore::new(
            counting_client(&world.engine.endpoint, counter.clone()),
            table.clone(),
        ),
    )
    .expect("api");
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let ids = world.seed(3).await;
    let missing = Uuid::new_v4();

    // (function, what it is sent), in an order in which each case has what it needs.
    let connect =
        json!({"hostname": "laptop", "clientInfo": {"name": "claude-ai", "version": "1"}});
    let other = json!({"hostname": "another"});
    let cases: Vec<(Route, sessions_tests::Event)> = vec![
        (
            Route::ListSessions,
            world.event(Route::ListSessions).query("limit", "2"),
        ),
        // The next page: mid-list, with the first page's cursor.
        (
            Route::ListSessions,
            world.event(Route::ListSessions).query("limit", "2"),
        ),
        (
            Route::ListSessions,
            world.event(Route::ListSessions).query("status", "all"),
        ),
        (Route::GetSession, world.get_event(ids[0])),
        (Route::GetSession, world.get_event(missing)),
        (Route::ConnectSession, world.connect_event(&connect)),
        (
            Route::ConnectSession,
            world
                .connect_event(&connect)
                .header("Idempotency-Key", "k-1"),
        ),
        (
            Route::ConnectSession,
            world
                .connect_event(&connect)
                .header("Idempotency-Key", "k-1"),
        ),
        (
            Route::ConnectSession,
            world.connect_event(&other).header("Idempotency-Key", "k-1"),
        ),
        (
            Route::HeartbeatSession,
            world.heartbeat_event(ids[0], &json!({})),
        ),
        (
            Route::HeartbeatSession,
            world.heartbeat_event(missing, &json!({})),
        ),
        (Route::DisconnectSession, world.disconnect_event(ids[1])),
        (Route::DisconnectSession, world.disconnect_event(ids[1])),
        (Route::DisconnectSession, world.disconnect_event(missing)),
        (
            Route::HeartbeatSession,
            world.heartbeat_event(ids[1], &json!({})),
        ),
        (Route::RevokeSession, world.revoke_one_event(ids[2])),
        (Route::RevokeSession, world.revoke_one_event(missing)),
        (Route::RevokeSessions, world.event(Route::RevokeSessions)),
        (Route::ConnectSession, world.connect_event(&json!({}))),
    ];
    let (mut cursor, mut mid_list): (Option<String>, bool) = (None, false);
    for (route, mut event) in cases {
        if route == Route::ListSessions {
            if let Some(c) = cursor.take() {
                event = event.query("cursor", &c);
                mid_list = true;
            }
        }
        counter.reset();
        let reply = call(&api, event).await;
        assert!(
            reply.status < 500,
            "{route:?}: {} {:#}",
            reply.status,
            reply.body
        );
        if route == Route::ListSessions {
            cursor = reply.next_cursor();
        }
        used.entry(route.name())
            .or_default()
            .extend(counter.by_operation().into_keys());
    }
    assert!(mid_list, "a list page was read with a cursor");

    // The Shared Signals functions, over the same counting client: each route of the
    // configuration, status and verification endpoints, then the push worker's event.
    let transmitter = shared_signals_transmitter(DynamoStore::new(
        counting_client(&world.engine.endpoint, counter.clone()),
        table.clone(),
    ))
    .await;
    let ssf_api = api.clone().with_transmitter(transmitter.clone());
    let manage = |route: Route| {
        sessions_tests::Event::new(route, "", None).claims(world.org, sessions::ssf::MANAGE_SCOPE)
    };
    counter.reset();
    let created = call(
        &ssf_api,
        manage(Route::SsfStreamCreate).json_body(&json!({"delivery": {
            "method": sessions::ssf::PUSH_METHOD, "endpoint_url": "http://127.0.0.1:9/events"},
            "events_requested": [sessions::ssf::SESSION_REVOKED]})),
    )
    .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    used.entry(Route::SsfStreamCreate.name())
        .or_default()
        .extend(counter.by_operation().into_keys());
    let id = created.body["stream_id"]
        .as_str()
        .expect("stream_id")
        .to_string();
    let ssf_cases: Vec<(Route, sessions_tests::Event)> = vec![
        (
            Route::SsfConfiguration,
            sessions_tests::Event::new(Route::SsfConfiguration, "", None),
        ),
        (
            Route::SsfJwks,
            sessions_tests::Event::new(Route::SsfJwks, "", None),
        ),
        (Route::SsfStreamRead, manage(Route::SsfStreamRead)),
        (
            Route::SsfStreamRead,
            manage(Route::SsfStreamRead).query("stream_id", &id),
        ),
        (
            Route::SsfStreamUpdate,
            manage(Route::SsfStreamUpdate).json_body(&json!({"stream_id": id, "description": "x"})),
        ),
        (
            Route::SsfStreamReplace,
            manage(Route::SsfStreamReplace).json_body(&json!({"stream_id": id, "delivery": {
                "method": sessions::ssf::PUSH_METHOD, "endpoint_url": "http://127.0.0.1:9/events"},
                "events_requested": [sessions::ssf::SESSION_REVOKED]})),
        ),
        (
            Route::SsfStatusRead,
            manage(Route::SsfStatusRead).query("stream_id", &id),
        ),
        (
            Route::SsfStatusUpdate,
            manage(Route::SsfStatusUpdate)
                .json_body(&json!({"stream_id": id, "status": "enabled"})),
        ),
        (
            Route::SsfVerify,
            manage(Route::SsfVerify).json_body(&json!({"stream_id": id})),
        ),
        (
            Route::SsfStreamDelete,
            manage(Route::SsfStreamDelete).query("stream_id", &missing.to_string()),
        ),
    ];
    for (route, event) in ssf_cases {
        counter.reset();
        let reply = call(&ssf_api, event).await;
        assert!(
            reply.status < 500,
            "{route:?}: {} {:#}",
            reply.status,
            reply.body
        );
        used.entry(route.name())
            .or_default()
            .extend(counter.by_operation().into_keys());
    }
    counter.reset();
    let event = sessions::events::SessionEvent {
        version: sessions::events::DETAIL_VERSION.into(),
        event_id: Uuid::new_v4(),
        kind: sessions::events::EventKind::ApplicationSessionsRevoked,
        organization_id: world.org,
        application_id: world.app.id,
        session_id: None,
        occurred_at: sessions::time::now(),
        reason: None,
    };
    let jobs = transmitter.fan_out(&event).await.expect("fan out");
    for job in jobs {
        transmitter.attempt(job).await;
    }
    used.entry("ssf-push")
        .or_default()
        .extend(counter.by_operation().into_keys());

    const TRANSACTION_MEMBERS: [&str; 2] = ["dynamodb:ConditionCheckItem", "dynamodb:PutItem"];
    // The scheduled function's calls are counted elsewhere; the stream consumer's grants are
    // Lambda's event source reading the stream with its role (its handler makes no
    // DynamoDB call: `events::` runs it).
    for name in function_names()
        .into_iter()
        .filter(|n| !SCHEDULED.contains(n) && !STREAM_CONSUMERS.contains(n))
    {
        let row: BTreeSet<String> = expected_grants(name)
            .expect("a row")
            .into_iter()
            .map(|(action, _)| action)
            .collect();
        let ops = used.get(name).cloned().unwrap_or_default();
        let mut needed: BTreeSet<String> = BTreeSet::new();
        for op in &ops {
            if op == "TransactWriteItems" {
                needed.extend(TRANSACTION_MEMBERS.iter().map(|a| a.to_string()));
            } else {
                needed.insert(format!("dynamodb:{op}"));
            }
        }
        assert_eq!(row, needed, "{name}: its row, and what it did ({ops:?})");
    }
}

/// A transmitter over `store` (a fresh local key, loopback receivers allowed).
async fn shared_signals_transmitter(
    store: sessions::store::DynamoStore,
) -> sessions::ssf::transmitter::Transmitter {
    let pem = sessions::ssf::signer::LocalSigner::generate_pem();
    let settings = sessions::ssf::settings::SsfSettings::from_lookup(|name| match name {
        "SESSIONS_SSF_ISSUER" => Some("https://ssf.test.example".into()),
        "SESSIONS_SSF_SIGNING_KEY_PEM" => Some(pem.clone()),
        "SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS" => Some("true".into()),
        _ => None,
    })
    .expect("transmitter settings");
    sessions::ssf::transmitter::Transmitter::new(&settings, store, Default::default())
        .await
        .expect("transmitter")
}

/// The logical id of the one schedule.
fn schedule_id(t: &Value) -> String {
    let schedules = spec_files::resources_of_type(t, "AWS::Scheduler::Schedule");
    assert_eq!(schedules.len(), 1, "one schedule");
    schedules.into_keys().next().expect("a schedule")
}

fn schedule_role_id(t: &Value) -> String {
    t["Resources"][schedule_id(t)]["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
        .as_str()
        .expect("the schedule's role")
        .to_string()
}

/// The checker itself: each way of widening a role that it must catch, it catches.
#[test]
fn a_widened_role_is_caught() {
    let t = spec_files::template();
    // (what, a problem must mention, the widened template)
    let widened: Vec<(&str, &str, Value)> = vec![
        (
            "an extra action",
            "get-session:",
            with_changed_statement(&t, "get-session", |s| {
                s["Action"] = json!(["dynamodb:BatchGetItem", "dynamodb:Query"]);
            }),
        ),
        (
            "a wildcard action",
            "revoke-sessions:",
            with_changed_statement(&t, "revoke-sessions", |s| {
                s["Action"] = json!("dynamodb:*");
            }),
        ),
        (
            "the table beside the live index",
            "sweep-sessions:",
            with_changed_statement(&t, "sweep-sessions", |s| {
                let mut resources = one_or_many(&s["Resource"]);
                resources.push(json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}));
                s["Resource"] = Value::Array(resources);
            }),
        ),
        (
            "the table's pattern on the live index",
            "sweep-sessions:",
            with_changed_statement(&t, "sweep-sessions", |s| {
                s["Condition"] =
                    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ORG#*"]}});
            }),
        ),
        (
            "a transaction member beyond the row",
            "connect-session:",
            with_changed_statement(&t, "connect-session", |s| {
                let mut actions = one_or_many(&s["Action"]);
                actions.push(json!("dynamodb:DeleteItem"));
                s["Action"] = Value::Array(actions);
            }),
        ),
        (
            "every index",
            "revoke-session:",
            with_changed_statement(&t, "revoke-session", |s| {
                s["Resource"] = json!({"Fn::Sub": "${SessionsTable.Arn}/index/*"});
            }),
        ),
        (
            "a missing condition",
            "revoke-session:",
            with_changed_statement(&t, "revoke-session", |s| {
                s.as_object_mut().expect("a statement").remove("Condition");
            }),
        ),
        (
            "a condition that admits the directory",
            "get-session:",
            with_changed_statement(&t, "get-session", |s| {
                s["Condition"] =
                    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*"]}});
            }),
        ),
        ("a shared role", "is shared by", {
            let mut shared = t.clone();
            let role = role_id_of(&t, "list-sessions");
            shared["Resources"][function_id_of(&t, "get-session")]["Properties"]["Role"] =
                json!({"Fn::GetAtt": [role, "Arn"]});
            shared
        }),
        (
            "a role beside the functions' and the scheduler's",
            "StrayRole:",
            {
                let mut beside = t.clone();
                beside["Resources"]["StrayRole"] =
                    json!({"Type": "AWS::IAM::Role", "Properties": {}});
                beside
            },
        ),
        (
            "a function role the scheduler may assume",
            "sweep-sessions:",
            {
                let mut widened = t.clone();
                let role = role_id_of(&t, "sweep-sessions");
                widened["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                    [0]["Principal"]["Service"] =
                    json!(["lambda.amazonaws.com", "scheduler.amazonaws.com"]);
                widened
            },
        ),
        (
            "a scheduler role that may invoke any function",
            "may do more than invoke",
            {
                let mut widened = t.clone();
                let role = schedule_role_id(&t);
                widened["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
                    ["Statement"][0]["Resource"] = json!("*");
                widened
            },
        ),
        (
            "a scheduler role any account's schedules may assume",
            "for this account",
            {
                let mut widened = t.clone();
                let role = schedule_role_id(&t);
                widened["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                    [0]
                .as_object_mut()
                .expect("a statement")
                .remove("Condition");
                widened
            },
        ),
        (
            "a schedule that invokes a route's function",
            "no scheduled function",
            {
                let mut widened = t.clone();
                let schedule = schedule_id(&t);
                widened["Resources"][schedule]["Properties"]["Target"]["Arn"] =
                    json!({"Fn::GetAtt": [function_id_of(&t, "revoke-sessions"), "Arn"]});
                widened
            },
        ),
        ("a policy beside the roles", "ExtraPolicy:", {
            let mut beside = t.clone();
            beside["Resources"]["ExtraPolicy"] =
                json!({"Type": "AWS::IAM::Policy", "Properties": {}});
            beside
        }),
    ];
    for (what, mentions, template) in widened {
        let problems = iam_problems(&template);
        assert!(
            problems.iter().any(|p| p.contains(mentions)),
            "{what} went unnoticed: {problems:?}"
        );
    }
}
