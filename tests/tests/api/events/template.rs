//! The stream consumer as `template.yaml` deploys it: fed by the table's stream alone, from its
//! oldest record, answering partial batch responses, bisecting, retrying a bounded number of
//! times and then keeping the failed batch in a queue an alarm watches; publishing on the stack's own bus,
//! whose name and ARN the stack outputs.

use serde_json::json;

use crate::spec_files::{functions, resources_of_type, template};

#[test]
fn the_table_stream_feeds_the_consumer_which_keeps_what_fails() {
    let t = template();
    let consumers: Vec<_> = functions(&t)
        .into_iter()
        .filter(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == "session-events")
        .collect();
    let [(_, function)] = &consumers[..] else {
        panic!("one session-events function, got {}", consumers.len());
    };
    let events = function["Properties"]["Events"]
        .as_object()
        .expect("its events");
    assert_eq!(events.len(), 1, "the stream alone invokes it: {events:?}");
    let source = events.values().next().expect("one event");
    assert_eq!(source["Type"], "DynamoDB");
    let p = &source["Properties"];
    assert_eq!(
        p["Stream"],
        json!({"Fn::GetAtt": ["SessionsTable", "StreamArn"]})
    );
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(
        p["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    let retries = p["MaximumRetryAttempts"].as_i64().expect("bounded retries");
    assert!((0..=10_000).contains(&retries), "{retries}");
    let failed = &p["DestinationConfig"]["OnFailure"];
    assert_eq!(failed["Type"], "SQS");
    let queue = failed["Destination"]["Fn::GetAtt"][0]
        .as_str()
        .expect("a queue of this stack");
    assert!(resources_of_type(&t, "AWS::SQS::Queue").contains_key(queue));

    // An operator hears of a failed batch: an alarm on the queue's waiting messages.
    let watched = resources_of_type(&t, "AWS::CloudWatch::Alarm")
        .values()
        .flat_map(|a| {
            a["Properties"]["Metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .any(|m| {
            let metric = &m["MetricStat"]["Metric"];
            metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && metric["Dimensions"][0]["Value"] == json!({"Fn::GetAtt": [queue, "QueueName"]})
        });
    assert!(watched, "an alarm on the failure queue");

    let buses = resources_of_type(&t, "AWS::Events::EventBus");
    assert!(buses.contains_key("SessionEventBus"), "{buses:?}");
    assert_eq!(
        t["Globals"]["Function"]["Environment"]["Variables"]["SESSIONS_EVENT_BUS"],
        json!({"Ref": "SessionEventBus"})
    );
    assert_eq!(
        t["Outputs"]["SessionEventBusName"]["Value"],
        json!({"Ref": "SessionEventBus"})
    );
    assert_eq!(
        t["Outputs"]["SessionEventBusArn"]["Value"],
        json!({"Fn::GetAtt": ["SessionEventBus", "Arn"]})
    );
}
