//! Captures a production trace from the audit table: every audited event
//! in a time range, as the delivered JSON text it arrived as, one per line,
//! in time order. `tally replay` reads the result. The table is read and
//! written a page at a time, so a long range is never held in memory.
//!
//! Or from an event store another system's audit consumer keeps (one item
//! per event, its parts in named attributes: [`Layout`]): each item becomes
//! the delivered event it was, with `receivedAt` when the store keeps when
//! it was audited.

use crate::ports::AwsPorts;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::io::Write;
use tally_core::ports::PortError;
use tally_core::time::Millis;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("reading the table: {0}")]
    Port(#[from] PortError),
    #[error("writing the trace: {0}")]
    Write(#[from] std::io::Error),
}

/// How many audit entries a page holds at most (a page is also at most
/// DynamoDB's 1 MB): the grain of the progress count.
pub const PAGE_ITEMS: i32 = 1000;

/// Writes the audited events with `since <= timestamp < until` to `out`,
/// reading pages of at most `page_items` entries and telling `progress`
/// the running count after each; returns how many.
pub async fn capture(
    ports: &AwsPorts,
    since: Millis,
    until: Millis,
    page_items: i32,
    out: &mut impl Write,
    mut progress: impl FnMut(usize),
) -> Result<usize, CaptureError> {
    let mut written = 0;
    ports
        .audit_pages(since, until, Some(page_items), |page| {
            for e in &page {
                write_line(out, &e.delivered, &e.event_id)?;
                written += 1;
            }
            progress(written);
            Ok::<_, CaptureError>(())
        })
        .await?;
    Ok(written)
}

/// One trace line: the text as it arrived, unless a line break inside it
/// would split the line (then compacted).
fn write_line(out: &mut impl Write, delivered: &str, event_id: &str) -> Result<(), CaptureError> {
    if delivered.contains('\n') {
        let compact: serde_json::Value = serde_json::from_str(delivered)
            .map_err(|err| PortError::Permanent(format!("audit entry {event_id}: {err}")))?;
        writeln!(out, "{compact}")?;
    } else {
        writeln!(out, "{delivered}")?;
    }
    Ok(())
}

/// Which attribute of an event-store item holds each part of the event:
/// the table another system's audit consumer writes, one item per event
/// (design note 002's event store; the notes' system's audit consumer
/// writes the names of [`Layout::event_store`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub event_id: String,
    pub event_type: String,
    pub event_version: String,
    pub source: String,
    /// The event's own time (milliseconds since the epoch).
    pub timestamp: String,
    /// When the audit consumer received it, if the table keeps that: the
    /// trace line's `receivedAt`, so a replay feeds inputs in arrival order.
    pub received: Option<String>,
    pub user_id: String,
    pub correlation_id: String,
    pub causation_id: String,
    pub data: String,
    pub metadata: String,
}

/// The parts a `--attribute PART=NAME` may rename.
pub const LAYOUT_PARTS: &[&str] = &[
    "eventId",
    "eventType",
    "eventVersion",
    "source",
    "timestamp",
    "receivedAt",
    "userId",
    "correlationId",
    "causationId",
    "data",
    "metadata",
];

impl Layout {
    /// The item the notes' system's audit consumer writes: `eventId,
    /// eventType, eventVersion, source, originalTimestamp, auditTimestamp,
    /// userId, correlationId, causationId, eventData, eventMetadata`.
    pub fn event_store() -> Layout {
        Layout {
            event_id: "eventId".into(),
            event_type: "eventType".into(),
            event_version: "eventVersion".into(),
            source: "source".into(),
            timestamp: "originalTimestamp".into(),
            received: Some("auditTimestamp".into()),
            user_id: "userId".into(),
            correlation_id: "correlationId".into(),
            causation_id: "causationId".into(),
            data: "eventData".into(),
            metadata: "eventMetadata".into(),
        }
    }

    /// Applies `PART=NAME` (PART one of [`LAYOUT_PARTS`]; `receivedAt=`
    /// with no name says the table does not keep it).
    pub fn set(&mut self, spec: &str) -> Result<(), String> {
        let (part, name) = spec.split_once('=').ok_or_else(|| {
            format!("--attribute {spec:?}: expected PART=NAME, such as data=payload")
        })?;
        let name = name.trim().to_owned();
        if name.is_empty() && part != "receivedAt" {
            return Err(format!("--attribute {spec:?}: the attribute name is empty"));
        }
        let slot = match part {
            "eventId" => &mut self.event_id,
            "eventType" => &mut self.event_type,
            "eventVersion" => &mut self.event_version,
            "source" => &mut self.source,
            "timestamp" => &mut self.timestamp,
            "receivedAt" => {
                self.received = (!name.is_empty()).then_some(name);
                return Ok(());
            }
            "userId" => &mut self.user_id,
            "correlationId" => &mut self.correlation_id,
            "causationId" => &mut self.causation_id,
            "data" => &mut self.data,
            "metadata" => &mut self.metadata,
            other => {
                return Err(format!(
                    "--attribute {spec:?}: {other:?} is not a part of an event; expected one of {}",
                    LAYOUT_PARTS.join(", ")
                ))
            }
        };
        *slot = name;
        Ok(())
    }
}

/// What a capture from an event store wrote, and the items it could not
/// turn into an event (each with its reason: never dropped unsaid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCapture {
    pub written: usize,
    pub unreadable: Vec<String>,
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// A DynamoDB attribute as JSON: numbers as integers where they are
/// integral (DynamoDB keeps the notes' millisecond times and counts so).
fn json_of(v: &AttributeValue) -> Result<Value, String> {
    let number = |n: &str| -> Result<Value, String> {
        if let Ok(i) = n.parse::<i64>() {
            return Ok(i.into());
        }
        n.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("number {n:?} is not finite"))
    };
    Ok(match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n)?,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), json_of(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        AttributeValue::L(l) => Value::Array(l.iter().map(json_of).collect::<Result<_, _>>()?),
        AttributeValue::Ss(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(l) => {
            Value::Array(l.iter().map(|n| number(n)).collect::<Result<_, _>>()?)
        }
        other => return Err(format!("a {other:?} attribute has no JSON form")),
    })
}

/// One trace line (a delivered event, `receivedAt` beside it) from an
/// event-store item, or why not.
pub fn line_of(item: &Item, layout: &Layout) -> Result<String, String> {
    let get = |name: &str| -> Result<Option<Value>, String> {
        item.get(name)
            .map(|v| json_of(v).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
            .map(|v| v.filter(|v| !v.is_null()))
    };
    let string = |name: &str| -> Result<String, String> {
        match get(name)? {
            Some(Value::String(s)) => Ok(s),
            other => Err(format!(
                "attribute {name}: expected a string, found {}",
                other
                    .as_ref()
                    .map_or("nothing".to_owned(), tally_core::wire::describe)
            )),
        }
    };
    let millis = |name: &str, v: Option<Value>| -> Result<Millis, String> {
        v.as_ref().and_then(Value::as_i64).ok_or_else(|| {
            format!(
                "attribute {name}: expected milliseconds since the epoch, found {}",
                v.as_ref()
                    .map_or("nothing".to_owned(), tally_core::wire::describe)
            )
        })
    };
    let event_id = string(&layout.event_id)?;
    let timestamp = millis(&layout.timestamp, get(&layout.timestamp)?)?;
    let detail = serde_json::json!({
        "eventId": event_id,
        "eventVersion": get(&layout.event_version)?.unwrap_or_else(|| "1.0".into()),
        "timestamp": timestamp,
        "userId": get(&layout.user_id)?,
        "correlationId": get(&layout.correlation_id)?,
        "causationId": get(&layout.causation_id)?,
        "data": get(&layout.data)?.unwrap_or_else(|| Value::Object(Default::default())),
        "metadata": get(&layout.metadata)?.unwrap_or_else(|| Value::Object(Default::default())),
    });
    let mut line = serde_json::json!({
        "version": "0",
        "id": event_id,
        "detail-type": string(&layout.event_type)?,
        "source": string(&layout.source)?,
        "account": "",
        "time": tally_core::time::to_rfc3339_seconds(timestamp),
        "region": "",
        "resources": [],
        "detail": detail,
    });
    if let Some(name) = &layout.received {
        if let Some(v) = get(name)? {
            line[RECEIVED_AT] = millis(name, Some(v))?.into();
        }
    }
    Ok(line.to_string())
}

/// The trace line's field for when the consumer received the event (the
/// trace reader's `tally_sim::trace::RECEIVED_AT`; the simulator is only a
/// dev-dependency here, and its test holds the two equal).
pub const RECEIVED_AT: &str = "receivedAt";

/// Writes every item of the event store `table` whose event time lies in
/// `since <= t < until` (and every item without a time, as unreadable) as
/// trace lines, a Scan page of at most `page_items` at a time, telling
/// `progress` the running count. Lines come in the table's order, not in
/// time order: the trace reader sorts.
#[allow(clippy::too_many_arguments)]
pub async fn capture_event_store(
    ports: &AwsPorts,
    table: &str,
    layout: &Layout,
    since: Millis,
    until: Millis,
    page_items: i32,
    out: &mut impl Write,
    mut progress: impl FnMut(usize),
) -> Result<StoreCapture, CaptureError> {
    let mut result = StoreCapture::default();
    let mut start = None;
    loop {
        let page = ports
            .clients
            .dynamo
            .scan()
            .table_name(table)
            .filter_expression("#t BETWEEN :since AND :last OR attribute_not_exists(#t)")
            .expression_attribute_names("#t", &layout.timestamp)
            .expression_attribute_values(":since", AttributeValue::N(since.to_string()))
            .expression_attribute_values(
                ":last",
                AttributeValue::N(until.saturating_sub(1).to_string()),
            )
            .limit(page_items)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::error::classify(&format!("Scan of the event store {table}"), e))?;
        for item in page.items.unwrap_or_default() {
            match line_of(&item, layout) {
                Ok(line) => {
                    writeln!(out, "{line}")?;
                    result.written += 1;
                }
                Err(why) => {
                    let id = item
                        .get(&layout.event_id)
                        .and_then(|v| v.as_s().ok())
                        .map_or("(no id)", String::as_str);
                    result.unreadable.push(format!("item {id}: {why}"));
                }
            }
        }
        progress(result.written);
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Design note 002's event store keeps its parts under other names;
    /// a wrong part is named with the ones there are.
    #[test]
    fn a_layout_renames_parts_and_refuses_unknown_ones() {
        let mut l = Layout::event_store();
        l.set("timestamp=timestamp").unwrap();
        l.set("data=data").unwrap();
        l.set("receivedAt=").unwrap();
        assert_eq!(
            (l.timestamp.as_str(), l.data.as_str(), l.received.as_deref()),
            ("timestamp", "data", None)
        );
        let e = l.set("payload=x").unwrap_err();
        assert!(
            e.contains("\"payload\" is not a part of an event; expected one of eventId, eventType"),
            "{e}"
        );
        assert!(l.set("data").unwrap_err().contains("expected PART=NAME"));
        assert!(l
            .set("data= ")
            .unwrap_err()
            .contains("the attribute name is empty"));
    }

    #[test]
    fn an_item_becomes_the_delivered_event_it_was() {
        let item: Item = [
            ("eventId", AttributeValue::S("e1".into())),
            ("eventType", AttributeValue::S("file.deletion.vote".into())),
            (
                "source",
                AttributeValue::S("category.manager.service".into()),
            ),
            (
                "originalTimestamp",
                AttributeValue::N("1736937000000".into()),
            ),
            ("auditTimestamp", AttributeValue::N("1736937000150".into())),
            ("userId", AttributeValue::S("u".into())),
            ("correlationId", AttributeValue::Null(true)),
            (
                "eventData",
                AttributeValue::M(
                    [("requestId".to_owned(), AttributeValue::S("r".into()))]
                        .into_iter()
                        .collect(),
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let line: Value =
            serde_json::from_str(&line_of(&item, &Layout::event_store()).unwrap()).unwrap();
        assert_eq!(line["receivedAt"], 1736937000150i64);
        assert_eq!(line["time"], "2025-01-15T10:30:00Z");
        assert_eq!(line["detail"]["timestamp"], 1736937000000i64);
        assert_eq!(line["detail"]["data"]["requestId"], "r");
        assert_eq!(line["detail"]["correlationId"], Value::Null);
        assert_eq!(line["detail"]["eventVersion"], "1.0");
        let mut no_source = item.clone();
        no_source.remove("source");
        assert_eq!(
            line_of(&no_source, &Layout::event_store()).unwrap_err(),
            "attribute source: expected a string, found nothing"
        );
    }
}
