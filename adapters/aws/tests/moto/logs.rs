//! What a function writes to CloudWatch Logs, read back: a JSON object per
//! line, the handled input's requestId and correlationId in it.

use crate::support::{Moto, T0};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'w self) -> Buffer {
        self.clone()
    }
}

/// Every line the aggregator logs for a deletion request is JSON, and the
/// line for the handled request names its requestId, correlationId, event
/// id and type.
#[tokio::test(flavor = "current_thread")]
async fn log_lines_are_json_and_carry_request_and_correlation_ids() {
    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 2, None, T0).await;
    assert!(moto.pump(T0 + 100).await.is_empty());
    let answer = moto.delete("f1", Some("alice"), T0 + 60_000).await;
    let request = crate::support::request_id(&answer);

    let buffer = Buffer::default();
    let _guard =
        tracing::subscriber::set_default(tally_aws::lambda::observe::json_logs(buffer.clone()));
    let bodies = moto.drain("aggregator").await;
    assert_eq!(bodies.len(), 1, "the request, on the aggregator's queue");
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    moto.invoke_batch("aggregator", &refs, T0 + 60_100).await;

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let handled = lines
        .iter()
        .find(|l| l["message"] == "handled")
        .unwrap_or_else(|| panic!("no 'handled' line in {text}"));
    assert_eq!(handled["function"], "aggregator");
    assert_eq!(handled["requestId"], request.as_str());
    assert_eq!(handled["correlationId"], request.as_str());
    assert_eq!(handled["eventType"], "file.deletion.requested");
    assert_eq!(handled["level"], "INFO");
    assert!(handled["eventId"].as_str().is_some_and(|id| !id.is_empty()));
}
