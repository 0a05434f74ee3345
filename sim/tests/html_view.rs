//! `tally show --format html` in a real browser: headless Chromium loads
//! the page (its script draws the timeline), and the rendered DOM must
//! hold one decision mark for every decision of the run, honour the
//! request filter, and show an event's JSON. `scripts/test` installs
//! Chromium (scripts/browser) and sets TALLY_REQUIRE_BROWSER, so there the
//! browser is never skipped; elsewhere, without a browser, the test checks
//! the page's embedded data instead and says so (a weaker check: it does
//! not run the drawing).
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUN: &[&str] = &[
    "--seed",
    "11",
    "--files",
    "4",
    "--traffic",
    "0",
    "--no-faults",
    "--duplicate-rate",
    "0.4",
    "--crash-rate",
    "0.2",
    "--stalled-voter",
    "category_manager",
];

fn tally(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn browser() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TALLY_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// The DOM after the page's script ran, as Chromium serialises it.
fn rendered(chromium: &Path, page: &Path, hash: &str) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("file://{}{hash}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read while it runs: the DOM is larger than a pipe holds.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap().unwrap()
}

/// Every drawn event's (class, data-request), in drawing order.
fn drawn(dom: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..].split('"').next()?.to_owned())
    };
    dom.split("<g ")
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", rest.split('>').next()?);
            let tag = tag.as_str();
            let class = attr(tag, "class")?;
            class
                .starts_with("event ")
                .then(|| (class, attr(tag, "data-request").unwrap_or_default()))
        })
        .collect()
}

#[test]
fn every_decision_of_the_run_is_drawn() {
    let mut args = vec!["show"];
    args.extend_from_slice(RUN);
    let decisions: Vec<serde_json::Value> =
        tally(&[args.clone(), vec!["--format", "json"]].concat())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let requests: Vec<String> = decisions
        .iter()
        .map(|d| d["requestId"].as_str().unwrap().to_owned())
        .collect();
    assert!(requests.len() >= 3, "{requests:?}");
    assert!(
        decisions.iter().any(|d| d["cause"] == "timeout"),
        "the stalled voter times out"
    );
    let html = tally(&[args, vec!["--format", "html"]].concat());
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "the page loads nothing"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "the page loads nothing"
    );
    let dir = std::env::temp_dir().join(format!("tally-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    std::fs::write(&page, &html).unwrap();

    let Some(chromium) = browser() else {
        assert!(
            std::env::var_os("TALLY_REQUIRE_BROWSER").is_none(),
            "no Chromium: scripts/browser installs it"
        );
        eprintln!("no browser here: checking the page's embedded data, not its drawing");
        let data = html
            .split("<script type=\"application/json\" id=\"timeline\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap();
        let entries: Vec<serde_json::Value> = serde_json::from_str(data).unwrap();
        let mut marked: Vec<String> = entries
            .iter()
            .filter(|e| e["kind"] == "decision" || e["kind"] == "timeout")
            .map(|e| e["request"].as_str().unwrap().to_owned())
            .collect();
        let mut want = requests.clone();
        marked.sort();
        want.sort();
        assert_eq!(marked, want);
        return;
    };

    let dom = rendered(&chromium, &page, "");
    let events = drawn(&dom);
    assert!(
        events.len() > requests.len(),
        "the script drew nothing: {}",
        &dom[..dom.len().min(2000)]
    );
    let mut marked: Vec<String> = events
        .iter()
        .filter(|(class, _)| class.split(' ').any(|c| c == "decision"))
        .map(|(_, r)| r.clone())
        .collect();
    let mut want = requests.clone();
    marked.sort();
    want.sort();
    assert_eq!(marked, want, "one decision mark per decision");
    let timeouts = events.iter().filter(|(c, _)| c.contains("timeout")).count();
    let timed_out = decisions.iter().filter(|d| d["cause"] == "timeout").count();
    assert_eq!(timeouts, timed_out);
    assert!(
        events.iter().any(|(c, _)| c.contains("fault")),
        "no fault drawn"
    );

    // The filter, as a link sets it: only that request's events stay shown.
    let one = &requests[0];
    let dom = rendered(&chromium, &page, &format!("#request={one}&event=0"));
    let events = drawn(&dom);
    for (class, request) in &events {
        let hidden = class.split(' ').any(|c| c == "hidden");
        assert_eq!(hidden, request != one, "{class} {request}");
    }
    let detail = dom
        .split("<pre id=\"detail\">")
        .nth(1)
        .unwrap()
        .split("</pre>")
        .next()
        .unwrap();
    assert!(
        detail.contains("&quot;") || detail.contains('"'),
        "no JSON shown: {detail}"
    );
    assert!(!detail.contains("(nothing selected)"), "{detail}");
    let _ = std::fs::remove_dir_all(&dir);
}
