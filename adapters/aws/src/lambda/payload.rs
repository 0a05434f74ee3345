//! What Lambda hands a function, told apart by shape: an SQS batch (from a
//! rule's queue), an event straight from EventBridge, an API Gateway proxy
//! request, or an S3 notification. Anything else is refused by name.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;
use tally_core::consumers::api::{ApiRequest, ApiResponse};
use tally_core::consumers::file_processor::ObjectCreated;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsRecord {
    pub message_id: String,
    pub body: String,
}

#[derive(Debug)]
pub enum Payload {
    Sqs(Vec<SqsRecord>),
    /// The delivered envelope's own text.
    EventBridge(String),
    Api(ApiRequest),
    S3(Vec<ObjectCreated>),
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Sqs(_) => "SQS batch",
            Payload::EventBridge(_) => "EventBridge event",
            Payload::Api(_) => "API Gateway request",
            Payload::S3(_) => "S3 notification",
        }
    }

    pub fn parse(text: &str) -> Result<Payload, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the invocation payload is not JSON: {e}"))?;
        let Some(obj) = v.as_object() else {
            return Err(format!(
                "the invocation payload is not a JSON object: {}",
                tally_core::wire::describe(&v)
            ));
        };
        if let Some(records) = obj.get("Records").and_then(Value::as_array) {
            let source = records
                .first()
                .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
                .and_then(Value::as_str)
                .unwrap_or("");
            return match source {
                "aws:sqs" => sqs(v),
                "aws:s3" => s3(v),
                "" if records.is_empty() => Ok(Payload::Sqs(Vec::new())),
                other => Err(format!(
                    "Records from eventSource {other:?}: expected aws:sqs or aws:s3"
                )),
            };
        }
        if obj.contains_key("httpMethod") {
            return api(v);
        }
        if obj.contains_key("detail-type") {
            return Ok(Payload::EventBridge(text.to_owned()));
        }
        let keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
        Err(format!(
            "not a payload a tally function takes (an SQS batch, an EventBridge event, an API Gateway proxy request or an S3 notification); its keys: {keys:?}"
        ))
    }
}

fn sqs(v: Value) -> Result<Payload, String> {
    let event: SqsEvent =
        serde_json::from_value(v).map_err(|e| format!("an SQS batch that does not read: {e}"))?;
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(SqsRecord {
                message_id: m
                    .message_id
                    .ok_or_else(|| format!("Records[{i}].messageId is missing"))?,
                body: m.body.unwrap_or_default(),
            })
        })
        .collect::<Result<_, String>>()
        .map(Payload::Sqs)
}

fn s3(v: Value) -> Result<Payload, String> {
    let event: S3Event = serde_json::from_value(v)
        .map_err(|e| format!("an S3 notification that does not read: {e}"))?;
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key =
                r.s3.object
                    .key
                    .ok_or_else(|| format!("Records[{i}].s3.object.key is missing"))?;
            Ok(ObjectCreated {
                bucket: r.s3.bucket.name.unwrap_or_default(),
                // S3 notifications URL-encode keys (spaces as '+').
                key: url_decode(&key),
                size: r.s3.object.size.unwrap_or(0).max(0) as u64,
                sequencer: r.s3.object.sequencer,
            })
        })
        .collect::<Result<_, String>>()
        .map(Payload::S3)
}

fn api(v: Value) -> Result<Payload, String> {
    let req: ApiGatewayProxyRequest = serde_json::from_value(v)
        .map_err(|e| format!("an API Gateway proxy request that does not read: {e}"))?;
    let fields = &req.request_context.authorizer.fields;
    // Cognito user pools put the user in claims.sub; a Lambda authorizer
    // in principalId.
    let caller = fields
        .get("claims")
        .and_then(|c| c.get("sub"))
        .or_else(|| fields.get("principalId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Payload::Api(ApiRequest {
        method: req.http_method.to_string(),
        path: req.path.unwrap_or_default(),
        caller,
    }))
}

/// The proxy response for API Gateway.
pub fn api_response(r: &ApiResponse) -> Value {
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(r.status);
    out.headers.insert(
        "content-type",
        "application/json".parse().expect("a valid header value"),
    );
    out.body = Some(Body::Text(r.body.to_string()));
    serde_json::to_value(out).expect("serializable")
}

/// Decodes `%XX` escapes and `+` (S3's form encoding of keys).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": "rh",
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        })
    }

    fn api_request(authorizer: Value) -> String {
        json!({
            "resource": "/files/{id}",
            "path": "/files/f1",
            "httpMethod": "DELETE",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "pathParameters": { "id": "f1" },
            "requestContext": { "authorizer": authorizer, "httpMethod": "DELETE", "path": "/files/f1" },
            "body": null,
            "isBase64Encoded": false,
        })
        .to_string()
    }

    /// An SQS batch reads as its records, message ids and bodies in order.
    #[test]
    fn an_sqs_batch() {
        let text =
            json!({ "Records": [sqs_record("m1", "{\"a\":1}"), sqs_record("m2", "not json")] })
                .to_string();
        let Payload::Sqs(records) = Payload::parse(&text).unwrap() else {
            panic!("not an SQS batch")
        };
        assert_eq!(
            records,
            vec![
                SqsRecord {
                    message_id: "m1".into(),
                    body: "{\"a\":1}".into()
                },
                SqsRecord {
                    message_id: "m2".into(),
                    body: "not json".into()
                },
            ]
        );
        // An empty batch is an empty SQS batch, not a refusal.
        assert!(
            matches!(Payload::parse(r#"{"Records": []}"#), Ok(Payload::Sqs(r)) if r.is_empty())
        );
    }

    /// An SQS record without a messageId is refused naming its index.
    #[test]
    fn an_sqs_record_without_an_id() {
        let mut r = sqs_record("m1", "x");
        r.as_object_mut().unwrap().remove("messageId");
        let text = json!({ "Records": [sqs_record("m0", "y"), r] }).to_string();
        let e = Payload::parse(&text).unwrap_err();
        assert!(e.contains("Records[1].messageId"), "{e}");
    }

    /// An EventBridge event is kept as its own text, byte for byte
    /// (spacing, key order and number forms included).
    #[test]
    fn an_eventbridge_event_keeps_its_text() {
        let text = "{ \"version\":\"0\", \"id\" : \"e1\",\"detail-type\":\"file.uploaded\",\n\"source\":\"file.service\",\"time\":\"2025-01-15T10:30:00Z\",\"detail\":{\"z\":1.50,\"a\":\"\\u00e9\"} }";
        let Payload::EventBridge(kept) = Payload::parse(text).unwrap() else {
            panic!("not an EventBridge event")
        };
        assert_eq!(kept, text);
    }

    /// An API Gateway proxy request reads its method and path, and its
    /// caller from the Cognito claims' sub, else the Lambda authorizer's
    /// principalId, else no caller.
    #[test]
    fn an_api_request_and_its_caller() {
        let cases = [
            (json!({ "claims": { "sub": "alice" } }), Some("alice")),
            (json!({ "principalId": "bob" }), Some("bob")),
            (
                json!({ "claims": { "sub": "alice" }, "principalId": "bob" }),
                Some("alice"),
            ),
            (json!({}), None),
            (json!({ "claims": { "email": "x@y" } }), None),
        ];
        for (authorizer, caller) in cases {
            let Payload::Api(req) = Payload::parse(&api_request(authorizer.clone())).unwrap()
            else {
                panic!("not an API request")
            };
            assert_eq!(req.method, "DELETE");
            assert_eq!(req.path, "/files/f1");
            assert_eq!(req.caller.as_deref(), caller, "{authorizer}");
        }
    }

    /// An S3 notification reads bucket, key (URL-decoded), size and sequencer.
    #[test]
    fn an_s3_notification_decodes_its_key() {
        let text = json!({ "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2025-01-15T10:30:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": "AWS:x" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "uploads",
                "bucket": { "name": "tally-content", "arn": "arn:aws:s3:::tally-content" },
                "object": { "key": "alice/f1/my+file%C3%A9%2B1.csv", "size": 42, "sequencer": "00AB" },
            },
        }]})
        .to_string();
        let Payload::S3(objects) = Payload::parse(&text).unwrap() else {
            panic!("not an S3 notification")
        };
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].bucket, "tally-content");
        assert_eq!(objects[0].key, "alice/f1/my fileé+1.csv");
        assert_eq!(objects[0].size, 42);
        assert_eq!(objects[0].sequencer.as_deref(), Some("00AB"));
    }

    /// url_decode leaves malformed escapes as they are.
    #[test]
    fn url_decode_edges() {
        assert_eq!(url_decode("a%2"), "a%2");
        assert_eq!(url_decode("a%zz"), "a%zz");
        assert_eq!(url_decode("%41%42"), "AB");
        assert_eq!(url_decode("100%25"), "100%");
    }

    /// Refusals: not JSON, not an object, Records of another source, and
    /// an unknown shape, which is refused naming its keys.
    #[test]
    fn refusals_say_why() {
        let e = Payload::parse("not json").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
        let e = Payload::parse("[1, 2, 3]").unwrap_err();
        assert!(
            e.contains("not a JSON object") && e.contains("array"),
            "{e}"
        );
        let e = Payload::parse(r#"{"Records": [{"eventSource": "aws:sns"}]}"#).unwrap_err();
        assert!(e.contains("aws:sns"), "{e}");
        let e = Payload::parse(r#"{"hello": 1, "world": 2}"#).unwrap_err();
        assert!(e.contains("not a payload a tally function takes"), "{e}");
        assert!(e.contains("\"hello\"") && e.contains("\"world\""), "{e}");
    }
}
