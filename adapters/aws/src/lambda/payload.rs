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
