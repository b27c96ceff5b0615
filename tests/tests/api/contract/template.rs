//! `template.yaml` holds what the deployed stack must be: one function per workspace binary,
//! least privilege, every route behind the JWT authorizer with its scopes, the sweeper on its
//! schedule, the development token verifier never switched on, and a table whose keys and
//! indexes are exactly those the store creates. cfn-lint and `sam validate --lint` check that
//! the template is valid; these tests check that it is right.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sessions::auth::Scope;
use sessions::route::Route;
use sessions::store::DynamoStore;
use sessions_tests::Engine;

use crate::spec_files::{
    self, function_packages, one_or_many, resources_of_type, strings, template, template_routes,
    watch_router, yaml_to_json,
};

const READ_ACTIONS: [&str; 4] = [
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    // A transaction's condition on an item it does not write.
    "dynamodb:ConditionCheckItem",
];
/// The table's change stream, read by its consumer (Lambda's event source, with its role).
const STREAM_ACTIONS: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];
const WRITE_ACTIONS: [&str; 3] = [
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
];

/// The logical ids of the functions a schedule invokes (they serve no route).
fn scheduled_functions(t: &Value) -> BTreeSet<String> {
    resources_of_type(t, "AWS::Scheduler::Schedule")
        .values()
        .filter_map(|s| target(&s["Properties"]["Target"]["Arn"]).map(String::from))
        .collect()
}

fn globals() -> Value {
    template()["Globals"]["Function"].clone()
}

fn resource(t: &Value, id: &str) -> Value {
    let r = &t["Resources"][id];
    assert!(r.is_object(), "resource {id} exists");
    r.clone()
}

/// The logical id a `!Ref X` or `!GetAtt X.Arn` points at.
fn target(v: &Value) -> Option<&str> {
    v["Ref"].as_str().or_else(|| v["Fn::GetAtt"][0].as_str())
}

#[test]
fn short_tags_become_cloudformation_functions() {
    let v = yaml_to_json(
        "a: !Ref X\nb: !GetAtt T.Arn\nc: !Sub \"${T.Arn}/index/*\"\nd: !If [C, 1, 2]\ne: !Not [!Equals [a, b]]\n",
    );
    assert_eq!(v["a"], json!({"Ref": "X"}));
    assert_eq!(v["b"], json!({"Fn::GetAtt": ["T", "Arn"]}));
    assert_eq!(v["c"], json!({"Fn::Sub": "${T.Arn}/index/*"}));
    assert_eq!(v["d"], json!({"Fn::If": ["C", 1, 2]}));
    assert_eq!(v["e"], json!({"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}));
}

#[test]
fn one_function_per_workspace_binary_built_by_cargo_lambda() {
    let t = template();
    let mut binaries = Vec::new();
    for (id, f) in spec_files::functions(&t) {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let binary = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} names its Binary"));
        binaries.push(binary.to_string());
        // cargo lambda runs in the workspace, which holds every binary.
        assert_eq!(f["Properties"]["CodeUri"], ".", "{id}");
        for local in ["Runtime", "Handler", "Architectures", "Environment"] {
            assert!(
                f["Properties"][local].is_null(),
                "{id} overrides the global {local}"
            );
        }
    }
    binaries.sort();
    assert_eq!(binaries, function_packages());

    let g = globals();
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(g["Handler"], "bootstrap");
    // Written in, not a parameter: the built template then says what was built.
    assert_eq!(
        g["Architectures"],
        json!(["arm64"]),
        "arm64 is the production choice"
    );
    assert_eq!(g["Tracing"], "Active");
    assert_eq!(g["LoggingConfig"]["LogFormat"], "JSON");
    let timeout = g["Timeout"].as_u64().expect("Timeout");
    assert!(
        timeout < 30,
        "under the HTTP API's 30 s integration limit, got {timeout}"
    );
}

#[test]
fn every_route_reaches_the_function_the_watch_router_names() {
    let t = template();
    let functions = spec_files::functions(&t);
    let deployed: BTreeMap<_, _> = template_routes(&t)
        .into_iter()
        .map(|(route, (id, _))| {
            let binary = functions[&id]["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (route, binary)
        })
        .collect();
    assert_eq!(deployed, watch_router());
}

#[test]
fn every_route_is_behind_the_jwt_authorizer_with_its_scopes() {
    let t = template();
    let api = resource(&t, "SessionsApi");
    assert_eq!(api["Type"], "AWS::Serverless::HttpApi");
    let auth = &api["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"], "JwtAuthorizer");
    let jwt = &auth["Authorizers"]["JwtAuthorizer"];
    assert_eq!(jwt["IdentitySource"], "$request.header.Authorization");
    assert_eq!(
        jwt["JwtConfiguration"]["issuer"],
        json!({"Ref": "JwtIssuer"})
    );
    assert_eq!(
        jwt["JwtConfiguration"]["audience"],
        json!({"Ref": "JwtAudience"})
    );
    assert!(
        api["Properties"]["CorsConfiguration"].is_null(),
        "CORS stays off"
    );

    let routes = template_routes(&t);
    assert_eq!(routes.len(), Route::ALL.len() + Route::SHARED_SIGNALS.len());
    for ((method, path), (id, event)) in routes {
        let p = &event["Properties"];
        assert_eq!(p["ApiId"], json!({"Ref": "SessionsApi"}), "{id}");
        assert_eq!(
            p["PayloadFormatVersion"], "2.0",
            "{id}: the events in events/ are 2.0"
        );
        let route = Route::ALL
            .into_iter()
            .chain(Route::SHARED_SIGNALS)
            .find(|r| r.method() == method && r.path() == path)
            .unwrap_or_else(|| panic!("{method} {path} is not a route of the API"));
        // The transmitter's discovery document and keys are public, and nothing else is.
        if route.scope() == Scope::Public {
            assert_eq!(p["Auth"], json!({"Authorizer": "NONE"}), "{id}");
            continue;
        }
        assert_eq!(p["Auth"]["Authorizer"], "JwtAuthorizer", "{id}");
        // API Gateway lets a route through when the token holds ANY listed scope: exactly the
        // scopes that satisfy the route's (management:all beside a management scope, nothing
        // beside sessions:connect or ssf:manage).
        let mut expected: Vec<String> = route
            .scope()
            .accepted()
            .iter()
            .map(|s| s.to_string())
            .collect();
        expected.sort();
        assert_eq!(
            strings(&p["Auth"]["AuthorizationScopes"]),
            expected,
            "{method} {path}"
        );
        // The connection side carries the heartbeats of every connected session: its own
        // throttling; the management routes keep the API's default.
        let settings = &p["RouteSettings"];
        if route.scope() == Scope::SessionsConnect {
            assert_eq!(
                settings,
                &json!({
                    "ThrottlingRateLimit": {"Ref": "ConnectionThrottlingRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ConnectionThrottlingBurstLimit"},
                }),
                "{method} {path}"
            );
        } else {
            assert!(settings.is_null(), "{method} {path}: {settings}");
        }
    }
}

/// The heartbeat timeout reaches every function, and its parameter accepts exactly what the
/// functions accept.
#[test]
fn the_heartbeat_timeout_is_a_parameter_every_function_reads() {
    let t = template();
    assert_eq!(
        globals()["Environment"]["Variables"]["SESSIONS_HEARTBEAT_TIMEOUT_SECONDS"],
        json!({"Ref": "HeartbeatTimeoutSeconds"})
    );
    let p = &t["Parameters"]["HeartbeatTimeoutSeconds"];
    assert_eq!(p["Type"], "Number");
    let parse = |v: &Value| {
        let n = v.as_i64().unwrap_or_else(|| panic!("a number: {v}"));
        sessions::config::heartbeat_timeout(Some(n.to_string()))
    };
    assert_eq!(
        parse(&p["Default"]),
        Ok(Some(chrono::Duration::seconds(
            sessions::config::DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
        ))),
        "the template's default is the functions' default"
    );
    assert_eq!(
        parse(&p["MinValue"]),
        Ok(None),
        "the least value turns it off"
    );
    assert!(parse(&p["MaxValue"]).is_ok_and(|d| d.is_some()));
    let above = p["MaxValue"].as_i64().expect("MaxValue") + 1;
    assert!(
        parse(&json!(above)).is_err(),
        "{above} is refused by the functions too"
    );
}

/// The sweeper: no route, invoked every minute by EventBridge Scheduler (off with the
/// timeout), without retries that would only repeat the next minute's sweep.
#[test]
fn the_sweeper_runs_every_minute_while_the_timeout_is_on() {
    let t = template();
    let functions = spec_files::functions(&t);
    let scheduled = scheduled_functions(&t);
    let binaries: Vec<&str> = scheduled
        .iter()
        .map(|id| {
            functions[id]["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("Binary")
        })
        .collect();
    assert_eq!(binaries, ["sweep-sessions"]);
    let id = scheduled.first().expect("the sweeper");
    let sweeper = &functions[id]["Properties"];
    assert!(sweeper["Events"].is_null(), "no route, no other trigger");
    assert_eq!(
        sweeper["EventInvokeConfig"],
        json!({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60})
    );
    for route in template_routes(&t).values() {
        assert_ne!(&route.0, id, "the sweeper serves no route");
    }

    let schedules = resources_of_type(&t, "AWS::Scheduler::Schedule");
    let schedule = &schedules.values().next().expect("a schedule")["Properties"];
    assert_eq!(schedule["ScheduleExpression"], "rate(1 minute)");
    assert_eq!(schedule["FlexibleTimeWindow"], json!({"Mode": "OFF"}));
    assert_eq!(
        schedule["State"],
        json!({"Fn::If": ["HeartbeatsTimeOut", "ENABLED", "DISABLED"]})
    );
    assert_eq!(
        t["Conditions"]["HeartbeatsTimeOut"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "HeartbeatTimeoutSeconds"}, "0"]}]})
    );
    let invokes = &schedule["Target"];
    assert_eq!(invokes["Arn"], json!({"Fn::GetAtt": [id, "Arn"]}));
    assert_eq!(
        invokes["RetryPolicy"],
        json!({"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60})
    );
    // Its role: security::template holds it to invoking the sweeper alone.
    let role = target(&invokes["RoleArn"]).expect("a role of this stack");
    assert_eq!(resource(&t, role)["Type"], "AWS::IAM::Role");
}

#[test]
fn throttling_and_access_logs_are_configured() {
    let t = template();
    let props = &resource(&t, "SessionsApi")["Properties"];
    let throttling = &props["DefaultRouteSettings"];
    assert_eq!(
        throttling["ThrottlingRateLimit"],
        json!({"Ref": "ThrottlingRateLimit"})
    );
    assert_eq!(
        throttling["ThrottlingBurstLimit"],
        json!({"Ref": "ThrottlingBurstLimit"})
    );

    let access = &props["AccessLogSettings"];
    let group = target(&access["DestinationArn"]).expect("a log group of the stack");
    let group = resource(&t, group);
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(!group["Properties"]["RetentionInDays"].is_null());
    let format = access["Format"].as_str().expect("Format");
    let fields: Value = serde_json::from_str(format).expect("the access log format is JSON");
    assert!(fields["requestId"].is_string() && fields["status"].is_string());
    assert!(
        !format.to_lowercase().contains("authorization"),
        "no header, so no token, is logged"
    );

    let functions_group = target(&globals()["LoggingConfig"]["LogGroup"])
        .expect("the functions log to a group of the stack")
        .to_string();
    let group = resource(&t, &functions_group);
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(!group["Properties"]["RetentionInDays"].is_null());
}

/// A function's statements, through its role (the function must not add policies of its own).
fn statements_of(t: &Value, function_id: &str, function: &Value) -> Vec<Value> {
    let props = &function["Properties"];
    for extra in ["Policies", "ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(props[extra].is_null(), "{function_id} has {extra}");
    }
    let role_id = props["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{function_id} uses a role of this stack"));
    let role = resource(t, role_id);
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let rp = &role["Properties"];
    assert!(
        rp["ManagedPolicyArns"].is_null(),
        "{role_id}: no managed policy"
    );
    assert_eq!(
        rp["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    rp["Policies"]
        .as_array()
        .expect("inline policies")
        .iter()
        .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
        .collect()
}

#[test]
fn functions_have_least_privilege() {
    let t = template();
    let table_arn = json!({"Fn::GetAtt": ["SessionsTable", "Arn"]});
    let index_arns: Vec<Value> = resource(&t, "SessionsTable")["Properties"]
        ["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GSIs")
        .iter()
        .map(|i| {
            let name = i["IndexName"].as_str().expect("IndexName");
            json!({ "Fn::Sub": format!("${{SessionsTable.Arn}}/index/{name}") })
        })
        .collect();
    let log_group = target(&globals()["LoggingConfig"]["LogGroup"])
        .expect("log group")
        .to_string();
    let log_group_arn = json!({"Fn::GetAtt": [log_group, "Arn"]});

    let routes = template_routes(&t);
    let scheduled = scheduled_functions(&t);
    for (id, function) in spec_files::functions(&t) {
        let methods: BTreeSet<&str> = routes
            .iter()
            .filter(|(_, (f, _))| f == &id)
            .map(|((m, _), _)| m.as_str())
            .collect();
        // The reads are GETs; revocations, the connection side, the stream management and
        // the sweeper write. The verification endpoint only sends a SET.
        let writes = ["DELETE", "POST", "PUT", "PATCH"]
            .iter()
            .any(|m| methods.contains(m))
            && id != "SsfVerifyFunction"
            || scheduled.contains(&id);
        // The stream's consumer: the table's stream is what invokes it.
        let consumes = function["Properties"]["Events"]
            .as_object()
            .is_some_and(|events| events.values().any(|e| e["Type"] == "DynamoDB"));
        let mut dynamodb_actions = BTreeSet::new();
        for statement in statements_of(&t, &id, &function) {
            assert_eq!(statement["Effect"], "Allow", "{id}: {statement}");
            assert!(statement["NotAction"].is_null() && statement["NotResource"].is_null());
            let actions: Vec<String> = one_or_many(&statement["Action"])
                .iter()
                .map(|a| a.as_str().expect("action").to_string())
                .collect();
            let resources = one_or_many(&statement["Resource"]);
            for action in &actions {
                assert!(!action.contains('*'), "{id}: wildcard action {action}");
                let service = action.split(':').next().unwrap_or_default();
                let allowed: Vec<Value> = match (service, action.as_str()) {
                    // Writes are to items; an index is only ever read.
                    ("dynamodb", a) if WRITE_ACTIONS.contains(&a) => vec![table_arn.clone()],
                    ("dynamodb", a) if STREAM_ACTIONS.contains(&a) => vec![
                        json!({"Fn::GetAtt": ["SessionsTable", "StreamArn"]}),
                        json!({"Fn::Sub": "${SessionsTable.Arn}/stream/*"}),
                    ],
                    // The stream consumer publishes on the stack's bus and keeps failed batches.
                    ("events", "events:PutEvents") => {
                        vec![json!({"Fn::GetAtt": ["SessionEventBus", "Arn"]})]
                    }
                    ("dynamodb", _) => std::iter::once(table_arn.clone())
                        .chain(index_arns.iter().cloned())
                        .collect(),
                    ("logs", "logs:CreateLogStream" | "logs:PutLogEvents") => {
                        vec![log_group_arn.clone()]
                    }
                    // X-Ray's write actions have no resource-level permissions: "*" is the only form.
                    ("xray", "xray:PutTraceSegments" | "xray:PutTelemetryRecords") => {
                        vec![json!("*")]
                    }
                    // The Shared Signals signing key, and its delivery queues.
                    ("kms", "kms:GetPublicKey" | "kms:Sign") => {
                        vec![json!({"Fn::GetAtt": ["SsfSigningKey", "Arn"]})]
                    }
                    // Its delivery queues, and the stream consumer's failed batches.
                    ("sqs", _) => vec![
                        json!({"Fn::GetAtt": ["SsfDeliveryQueue", "Arn"]}),
                        json!({"Fn::GetAtt": ["SsfDeadLetterQueue", "Arn"]}),
                        json!({"Fn::GetAtt": ["SessionEventsFailureQueue", "Arn"]}),
                    ],
                    _ => panic!("{id}: unexpected action {action}"),
                };
                for r in &resources {
                    assert!(allowed.contains(r), "{id}: {action} on {r}");
                }
                if service == "dynamodb" {
                    dynamodb_actions.insert(action.clone());
                }
            }
        }
        // Reads only read; the DELETE and POST routes and the sweeper write, and they do.
        // Exactly which actions each function has, on what, is security::template's table.
        let allowed: BTreeSet<String> = READ_ACTIONS
            .iter()
            .chain(WRITE_ACTIONS.iter().filter(|_| writes))
            .chain(STREAM_ACTIONS.iter().filter(|_| consumes))
            .map(|a| a.to_string())
            .collect();
        assert!(
            dynamodb_actions.is_subset(&allowed),
            "{id} (methods {methods:?}): {dynamodb_actions:?}"
        );
        assert_eq!(
            WRITE_ACTIONS.iter().any(|a| dynamodb_actions.contains(*a)),
            writes,
            "{id} (methods {methods:?}) writes exactly when it is a DELETE or POST route or scheduled"
        );
    }
}

#[test]
fn the_development_token_verifier_is_never_switched_on() {
    let t = template();
    // Anywhere: an environment, a parameter, an output (comments are not in the parsed form).
    let text = t.to_string();
    assert!(
        !text.contains("SESSIONS_DEV_JWT"),
        "template mentions SESSIONS_DEV_JWT_*"
    );

    let vars = &globals()["Environment"]["Variables"];
    assert_eq!(vars["SESSIONS_TABLE"], json!({"Ref": "SessionsTable"}));
    assert_eq!(vars["SESSIONS_IDLE_SECONDS"], json!({"Ref": "IdleSeconds"}));
    // The cursor key comes from the stack's secret at deploy time, never a literal.
    let key = vars["SESSIONS_CURSOR_KEY"]["Fn::Sub"]
        .as_str()
        .expect("SESSIONS_CURSOR_KEY is a dynamic reference");
    assert!(key.starts_with("{{resolve:secretsmanager:${CursorKeySecret}"));
    // After a rotation, the previous version of the same secret, for cursors already handed out.
    let previous = &vars["SESSIONS_CURSOR_KEY_PREVIOUS"]["Fn::If"];
    assert_eq!(previous[0], "CursorKeyRotated");
    assert!(previous[1]["Fn::Sub"].as_str().is_some_and(|s| s
        .starts_with("{{resolve:secretsmanager:${CursorKeySecret}")
        && s.ends_with("::AWSPREVIOUS}}")));
    assert_eq!(previous[2], json!({"Ref": "AWS::NoValue"}));
    assert_eq!(
        resource(&t, "CursorKeySecret")["Type"],
        "AWS::SecretsManager::Secret"
    );
}

#[tokio::test]
async fn the_table_has_the_keys_and_indexes_the_store_creates() {
    let engine = Engine::start().await;
    let store = DynamoStore::new(engine.client(), "sessions");
    store.create_table().await.expect("create table");
    let described = engine
        .client()
        .describe_table()
        .table_name("sessions")
        .send()
        .await
        .expect("describe table")
        .table
        .expect("a table");

    let t = template();
    let table = resource(&t, "SessionsTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];

    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Value {
        Value::Array(
            schema
                .iter()
                .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
                .collect(),
        )
    };
    assert_eq!(p["KeySchema"], keys(described.key_schema()));

    let mut attributes: Vec<Value> = described
        .attribute_definitions()
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name(), "AttributeType": a.attribute_type().as_str()}))
        .collect();
    attributes.sort_by_key(|a| a.to_string());
    let mut declared = p["AttributeDefinitions"]
        .as_array()
        .expect("attributes")
        .clone();
    declared.sort_by_key(|a| a.to_string());
    assert_eq!(declared, attributes);

    assert!(
        described.local_secondary_indexes().is_empty() && p["LocalSecondaryIndexes"].is_null(),
        "no LSI: the shard partitions and the live index replace them"
    );
    let mut gsis: Vec<Value> = described
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection();
            let mut projected = json!({"ProjectionType": projection
                .and_then(|p| p.projection_type())
                .map(|t| t.as_str())});
            let non_key = projection
                .map(|p| p.non_key_attributes())
                .unwrap_or_default();
            if !non_key.is_empty() {
                projected["NonKeyAttributes"] = json!(non_key);
            }
            json!({
                "IndexName": i.index_name(),
                "KeySchema": keys(i.key_schema()),
                "Projection": projected,
            })
        })
        .collect();
    gsis.sort_by_key(|i| i["IndexName"].to_string());
    let mut declared = p["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GSIs")
        .clone();
    declared.sort_by_key(|i| i["IndexName"].to_string());
    assert_eq!(declared, gsis);
    // On demand: no provisioned throughput of its own.
    for index in &declared {
        assert!(index["ProvisionedThroughput"].is_null(), "{index}");
    }

    let stream = described
        .stream_specification()
        .and_then(|s| s.stream_view_type())
        .map(|v| v.as_str().to_string());
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"].as_str(),
        stream.as_deref()
    );
    assert_eq!(stream.as_deref(), Some("NEW_AND_OLD_IMAGES"));
}

#[test]
fn the_table_is_durable_and_prunes_disconnected_sessions() {
    let t = template();
    let table = resource(&t, "SessionsTable");
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": "expiresAtTtl", "Enabled": true})
    );
    assert!(p["TableName"].is_null(), "named after the stack");
    assert_eq!(
        globals()["Environment"]["Variables"]["SESSIONS_RETENTION_DAYS"],
        json!({"Ref": "SessionRetentionDays"})
    );
}

/// The trust-store parameter offers exactly what the functions accept, defaults to Amazon's
/// roots, and reaches every function.
#[test]
fn the_trust_roots_parameter_is_what_the_functions_accept() {
    let t = template();
    let p = &t["Parameters"]["DynamoDbTrustRoots"];
    assert_eq!(p["Default"], "amazon");
    let allowed = p["AllowedValues"].as_array().expect("AllowedValues");
    assert_eq!(allowed.len(), 2);
    for value in allowed {
        let value = value.as_str().expect("a string").to_string();
        assert!(
            sessions::config::tls_roots(Some(value.clone())).is_ok(),
            "{value}"
        );
    }
    assert_eq!(
        sessions::config::tls_roots(Some("amazon".into())),
        Ok(sessions::config::TrustRoots::default())
    );
    assert_eq!(
        globals()["Environment"]["Variables"]["SESSIONS_TLS_ROOTS"],
        json!({"Ref": "DynamoDbTrustRoots"})
    );
}

#[test]
fn parameters_and_outputs_are_there() {
    let t = template();
    for name in [
        "Stage",
        "JwtIssuer",
        "JwtAudience",
        "IdleSeconds",
        "SessionRetentionDays",
        "LogRetentionDays",
        "LogLevel",
        "DynamoDbTrustRoots",
        "ThrottlingRateLimit",
        "ThrottlingBurstLimit",
        "HeartbeatTimeoutSeconds",
        "ConnectionThrottlingRateLimit",
        "ConnectionThrottlingBurstLimit",
    ] {
        assert!(t["Parameters"][name].is_object(), "parameter {name}");
    }
    assert_eq!(
        t["Outputs"]["TableStreamArn"]["Value"],
        json!({"Fn::GetAtt": ["SessionsTable", "StreamArn"]})
    );
    assert_eq!(
        t["Outputs"]["TableName"]["Value"],
        json!({"Ref": "SessionsTable"})
    );
    let url = t["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
        .as_str()
        .expect("ApiUrl");
    assert!(url.starts_with("https://${SessionsApi}.execute-api."));
}

#[test]
fn alarms_watch_5xx_throttles_and_function_errors() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    // (namespace, metric) → the resources it is watched for.
    let mut watched: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for alarm in alarms.values() {
        let metrics = alarm["Properties"]["Metrics"].as_array().expect("Metrics");
        for m in metrics {
            let metric = &m["MetricStat"]["Metric"];
            let Some(name) = metric["MetricName"].as_str() else {
                continue;
            };
            let dims = metric["Dimensions"].as_array().expect("Dimensions");
            let on: BTreeSet<String> = dims
                .iter()
                .filter_map(|d| target(&d["Value"]).map(String::from))
                .collect();
            watched
                .entry((
                    metric["Namespace"].as_str().unwrap_or_default().into(),
                    name.into(),
                ))
                .or_default()
                .extend(on);
        }
    }
    let all_functions: BTreeSet<String> = spec_files::functions(&t).into_keys().collect();
    let on = |ns: &str, metric: &str| {
        watched
            .get(&(ns.into(), metric.into()))
            .cloned()
            .unwrap_or_default()
    };
    assert!(on("AWS/ApiGateway", "5xx").contains("SessionsApi"));
    assert!(on("AWS/ApiGateway", "Count").contains("SessionsApi"));
    assert_eq!(on("AWS/Lambda", "Errors"), all_functions);
    assert_eq!(on("AWS/Lambda", "Throttles"), all_functions);
    assert!(on("AWS/DynamoDB", "ReadThrottleEvents").contains("SessionsTable"));
    assert!(on("AWS/DynamoDB", "WriteThrottleEvents").contains("SessionsTable"));
}
