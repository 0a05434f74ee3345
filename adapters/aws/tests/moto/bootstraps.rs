//! The real binaries, run for real: the functions' `bootstrap`s, each its
//! own process under cargo-lambda's Lambda runtime emulator (`cargo lambda
//! watch --only-lambda-apis`, which serves the Lambda Runtime API the
//! binaries poll, as Lambda's own does), configured by exactly the
//! environment the template gives them, against moto's server. A deletion
//! goes end to end through them: the API answers `DELETE /files/{id}` with
//! 202 and a requestId, the voters and the aggregator get SQS batches as
//! the event-source mapping delivers them, the executor deletes, and the
//! audit table ends with the whole story.
//!
//! What it needs, `./scripts/test` provides: `TALLY_CARGO_LAMBDA` (the
//! pinned cargo-lambda of `scripts/venv`), `TALLY_BOOTSTRAPS` (the folder
//! of the debug builds of tally-lambda's binaries) and `TALLY_SAM_BUILD`
//! (`sam build`'s output, whose aggregator is the one run here). Without
//! them the test fails rather than skip. The functions outside the
//! deletion's story (analytics, categorization, notification, the file
//! processor) run in process, as in the other moto tests.

use crate::support::{api_delete, endpoint, request_id, sqs_record, Moto, T0};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tally_aws::lambda::Answer;
use tally_core::coordination::Status;
use tally_core::ports::{AuditLog, ContentStore, FileStore};
use tally_deploy::template::function_id;

/// The functions run as their own processes: the deletion's whole story.
const RUN: &[&str] = &[
    "api",
    "analytics-voter",
    "category-voter",
    "backup-voter",
    "compliance-voter",
    "aggregator",
    "executor",
    "audit",
];
/// The one run from `sam build`'s output.
const SAM_BUILT: &str = "aggregator";

fn required_path(var: &str, what: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(p.exists(), "{var}={} does not exist ({what})", p.display());
            p
        }
        _ => panic!(
            "{var} is not set ({what}). Run ./scripts/test, which installs cargo-lambda with \
             scripts/venv, runs the README's sam build and builds the bootstraps, and sets \
             TALLY_CARGO_LAMBDA, TALLY_SAM_BUILD and TALLY_BOOTSTRAPS"
        ),
    }
}

/// Children killed when the test ends, however it ends.
struct Processes(Vec<(String, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Processes {
    /// Fails naming the first process that has stopped, with its log.
    fn all_running(&mut self, logs: &std::path::Path) {
        for (name, c) in &mut self.0 {
            if let Ok(Some(status)) = c.try_wait() {
                let log =
                    std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
                panic!("{name} stopped ({status}):\n{log}");
            }
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 POST; the answer's status and body (chunked or not).
fn post(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("no answer to POST {path} from the emulator: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if !chunked {
        return (status, rest.to_owned());
    }
    let mut body = String::new();
    let mut rest = rest;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        body.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    (status, body)
}

/// Invokes `function` through the emulator, as Lambda's Invoke API would.
fn invoke(port: u16, function: &str, payload: &Value) -> Value {
    let (status, body) = post(
        port,
        &format!("/2015-03-31/functions/{function}/invocations"),
        &payload.to_string(),
    );
    assert_eq!(status, 200, "{function} answered {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{function} answered {body}: {e}"))
}

#[tokio::test]
async fn a_deletion_goes_end_to_end_through_the_real_bootstraps() {
    let cargo_lambda = required_path("TALLY_CARGO_LAMBDA", "cargo-lambda, from scripts/venv");
    let bootstraps = required_path("TALLY_BOOTSTRAPS", "the debug builds of tally-lambda");
    let sam_build = required_path("TALLY_SAM_BUILD", "sam build's output folder");
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bootstraps");
    std::fs::create_dir_all(&logs).unwrap();

    let moto = Moto::fresh().await;
    moto.seed_user("alice").await;
    moto.upload("f1", "alice", 4, None, T0).await;
    assert!(moto.pump(T0 + 100).await.is_empty());
    let ports = moto.ports();
    let file = ports.get_file("f1").await.unwrap().expect("the upload");

    let port = free_port();
    let mut processes = Processes(Vec::new());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let emulator = Command::new(&cargo_lambda)
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .current_dir(workspace)
        .stdout(std::fs::File::create(logs.join("emulator.log")).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cargo_lambda.display()));
    processes.0.push(("emulator".into(), emulator));
    wait_for_port(port, "cargo lambda watch");

    for name in RUN {
        let f = tally_deploy::function(name).unwrap();
        let binary = if *name == SAM_BUILT {
            sam_build.join(function_id(name)).join("bootstrap")
        } else {
            bootstraps.join(name)
        };
        assert!(
            binary.is_file(),
            "{name}: no bootstrap at {}",
            binary.display()
        );
        let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
        // Only what Lambda gives a function: its template environment, the
        // runtime's variables and credentials (here moto's, at its endpoint).
        let child = Command::new(&binary)
            .env_clear()
            .envs(&moto.function_env[f.name])
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{name}"),
            )
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        processes.0.push((name.to_string(), child));
    }

    // A function whose configuration is bad stops at once, before it asks
    // the emulator for work: an invocation would wait for it forever.
    std::thread::sleep(Duration::from_secs(2));
    processes.all_running(&logs);

    // The API, through the emulator: 202 and a requestId.
    let answer = invoke(port, "api", &api_delete("f1", Some("alice")));
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let request = request_id(&answer);

    // The event-source mapping: each queue's batch to its function's
    // process (or, outside the story, in process), what it did not report
    // failed deleted, until every queue is empty.
    let mut delivered: Vec<&str> = Vec::new();
    for round in 0.. {
        assert!(round < 100, "the queues never drained");
        processes.all_running(&logs);
        let mut any = false;
        for (name, url) in &moto.queues {
            let messages = moto.receive(url).await;
            if messages.is_empty() {
                continue;
            }
            any = true;
            let records: Vec<Value> = messages
                .iter()
                .map(|m| sqs_record(name, m.message_id().unwrap(), m.body().unwrap_or_default()))
                .collect();
            let batch = json!({ "Records": records });
            let answer = if RUN.contains(name) {
                delivered.push(name);
                invoke(port, name, &batch)
            } else {
                let now = tally_aws::lambda::now();
                match moto.app(name).invoke(&batch.to_string(), now).await {
                    Answer::Ok(v) => v,
                    Answer::Failed(e) => panic!("{name} failed a whole batch: {e}"),
                }
            };
            let failed = answer["batchItemFailures"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} answered no batch report: {answer}"));
            assert!(failed.is_empty(), "{name} failed {failed:?}");
            for m in &messages {
                moto.delete_message(url, m).await;
            }
        }
        if !any {
            break;
        }
    }
    for name in [
        "analytics-voter",
        "category-voter",
        "aggregator",
        "executor",
        "audit",
    ] {
        assert!(
            delivered.contains(&name),
            "{name} never got a batch: {delivered:?}"
        );
    }

    // Decided once, as the votes say; deleted by the executor.
    let records = moto.records().await;
    let decided: Vec<_> = records.iter().filter(|r| r.request_id == request).collect();
    assert_eq!(decided.len(), 1, "{records:?}");
    assert_eq!(decided[0].status, Status::Approved, "{:?}", decided[0]);
    assert!(
        ports.get_file("f1").await.unwrap().is_none(),
        "f1's metadata remains"
    );
    assert!(
        ports.get_content(&file.s3_key).await.unwrap().is_none(),
        "f1's content remains"
    );

    // The audit table holds the whole story, in order.
    let story: Vec<(String, String)> = ports
        .entries(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.delivered.contains(&request))
        .map(|e| (e.event_type, e.source))
        .collect();
    let has = |t: &str, s: &str| story.iter().any(|(et, es)| et == t && es == s);
    for (t, s) in [
        ("file.deletion.requested", "file.service"),
        ("file.deletion.vote", "analytics.service"),
        ("file.deletion.vote", "category.service"),
        ("file.deletion.approved", "deletion.aggregator"),
        ("file.deleted", "deletion.executor"),
    ] {
        assert!(has(t, s), "the audit table lacks {t} from {s}: {story:?}");
    }
    let position = |t: &str| story.iter().position(|(et, _)| et == t).unwrap();
    assert!(position("file.deletion.requested") < position("file.deletion.approved"));
    assert!(position("file.deletion.approved") < position("file.deleted"));

    // The decision was the SAM-built aggregator's: its log says so.
    processes.all_running(&logs);
    drop(processes);
    let log = std::fs::read_to_string(logs.join("aggregator.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"handled\"") && l.contains(&request) && l.contains("approved")),
        "the aggregator's log:\n{log}"
    );
}
