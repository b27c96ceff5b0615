//! The deployed side of authorization, read from `template.yaml`: the development verifier is
//! never switched on, API Gateway's scopes for each route agree with the scope the function
//! itself requires (API Gateway lets a route through when the token holds ANY of the route's
//! `AuthorizationScopes`, so each route lists its own scope and `management:all`), and each
//! function's role allows exactly the DynamoDB operations its code makes, where it makes them,
//! and only on application partitions (`dynamodb:LeadingKeys`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sessions::auth::{Scope, MANAGEMENT_ALL};
use sessions::route::Route;
use sessions::store::layout::{self, INDEX_BY_CREATED, INDEX_CONNECTED};
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
    for line in &lines {
        if let Some(v) = value_of(line, "Authorizer:") {
            assert_eq!(v, "JwtAuthorizer", "a route opts out of the authorizer");
        }
    }
}

#[test]
fn the_template_and_the_functions_agree_on_scopes() {
    let expected: BTreeMap<(String, String), Vec<String>> = Route::ALL
        .into_iter()
        .map(|route| {
            // The contract: reads need sessions:read, revokes sessions:write.
            let contract = match route.method() {
                "GET" => Scope::SessionsRead,
                "DELETE" => Scope::SessionsWrite,
                other => panic!("{route:?}: unexpected method {other}"),
            };
            assert_eq!(route.scope(), contract, "the scope {route:?} requires");
            let mut scopes = vec![
                route.scope().as_str().to_string(),
                MANAGEMENT_ALL.to_string(),
            ];
            scopes.sort();
            ((route.method().into(), route.path().into()), scopes)
        })
        .collect();
    assert_eq!(route_scopes(&code_lines(&template())), expected);
}

// --- least privilege in DynamoDB, per function --------------------------------------------------

/// Where a DynamoDB grant applies: the table's items, or one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum On {
    Table,
    Index(&'static str),
}

/// One row per function (named by `Route::name`): every DynamoDB action its role allows, and
/// where. Read from the code, not from the template: the handlers in `shared/src/api/read.rs`
/// and `revoke.rs`, and the store operations they call.
const DYNAMODB_GRANTS: &[(&str, &[(&str, On)])] = &[
    (
        "list-sessions",
        &[
            // store::reads::query_sessions: ?status=all and inactive read byCreated ...
            ("dynamodb:Query", On::Index(INDEX_BY_CREATED)),
            // ... and active the sparse connected index.
            ("dynamodb:Query", On::Index(INDEX_CONNECTED)),
            // store::applications::get_application, mid-list (for the watermark).
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
            // store::revoke: raise_watermark, then disconnect of each session found.
            ("dynamodb:UpdateItem", On::Table),
            // store::revoke::revoke_all: the sweep over the connected index.
            ("dynamodb:Query", On::Index(INDEX_CONNECTED)),
        ],
    ),
    (
        "revoke-session",
        &[
            // store::lifecycle::disconnect_session ...
            ("dynamodb:UpdateItem", On::Table),
            // ... and get_application when the session is missing (404 for which one).
            ("dynamodb:GetItem", On::Table),
        ],
    ),
];

/// The condition every DynamoDB grant carries: only partition keys that start with `ORG#`, the
/// application partitions. The application directory (`APPID#…`) is the admin CLI's alone.
const LEADING_KEYS_PATTERN: &str = "ORG#*";

fn leading_keys_condition() -> Value {
    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [LEADING_KEYS_PATTERN]}})
}

fn expected_grants(route: Route) -> Option<BTreeSet<(String, On)>> {
    DYNAMODB_GRANTS
        .iter()
        .find(|(name, _)| *name == route.name())
        .map(|(_, grants)| grants.iter().map(|(a, on)| (a.to_string(), *on)).collect())
}

/// Where a `Resource` entry points, if it is the table or one of its indexes.
fn on_of(resource: &Value) -> Option<On> {
    if resource == &json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}) {
        return Some(On::Table);
    }
    let index = resource["Fn::Sub"]
        .as_str()?
        .strip_prefix("${SessionsTable.Arn}/index/")?;
    [INDEX_BY_CREATED, INDEX_CONNECTED]
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

/// Everything wrong with the template's DynamoDB grants, per function; empty when each function
/// has a role of its own that allows exactly its row of [`DYNAMODB_GRANTS`], every DynamoDB
/// grant under [`leading_keys_condition`].
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
        if Route::from_name(binary).is_none() {
            problems.push(format!("{id} ({binary:?}) serves no route"));
        }
    }
    for route in Route::ALL {
        let name = route.name();
        let Some(expected) = expected_grants(route) else {
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
        .collect();
        if grants.other != logs_and_traces {
            problems.push(format!(
                "{name}: beside DynamoDB, {:?} instead of its logs and traces",
                grants.other
            ));
        }
    }
    for (role_id, users) in roles_used {
        if users.len() > 1 {
            problems.push(format!("{role_id} is shared by {users:?}"));
        }
    }
    problems
}

/// The grants of a role's inline policies, noting any statement that is not a plain Allow or
/// a DynamoDB statement without the LeadingKeys condition.
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
        if statement["Condition"] != leading_keys_condition() {
            problems.push(format!(
                "{name}: {sid} lacks exactly the condition {}, has {}",
                leading_keys_condition(),
                statement["Condition"]
            ));
        }
        for action in &actions {
            for resource in &resources {
                match on_of(resource) {
                    Some(on) => {
                        grants.dynamodb.insert((action.clone(), on));
                    }
                    None => problems.push(format!(
                        "{name}: {sid} grants {action} on {resource}, neither the table nor one of its indexes"
                    )),
                }
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
fn the_expected_table_has_one_row_per_route_and_no_other() {
    let rows: Vec<&str> = DYNAMODB_GRANTS.iter().map(|(name, _)| *name).collect();
    let routes: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(rows, routes, "one row per route, in Route::ALL's order");
}

/// The indexes the rows name are the template table's indexes, and the condition's pattern
/// matches the store's application partitions and not its directory items.
#[test]
fn the_condition_and_the_indexes_match_the_store() {
    let t = spec_files::template();
    let declared: BTreeSet<String> = t["Resources"]["SessionsTable"]["Properties"]
        ["LocalSecondaryIndexes"]
        .as_array()
        .expect("LSIs")
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
    let prefix = LEADING_KEYS_PATTERN
        .strip_suffix('*')
        .expect("a prefix pattern");
    assert!(!prefix.contains(['*', '?']));
    let (org, app) = (Uuid::new_v4(), Uuid::new_v4());
    for (key, reachable) in [
        (layout::app_key(org, app), true),
        (layout::session_key(org, app, Uuid::new_v4()), true),
        (layout::directory_lookup_key(app), false),
    ] {
        let pk = layout::string_attr(&key, layout::PK).expect("pk");
        assert_eq!(pk.starts_with(prefix), reachable, "{pk}");
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
            "the table beside the indexes",
            "list-sessions:",
            with_changed_statement(&t, "list-sessions", |s| {
                let mut resources = one_or_many(&s["Resource"]);
                resources.push(json!({"Fn::GetAtt": ["SessionsTable", "Arn"]}));
                s["Resource"] = Value::Array(resources);
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
