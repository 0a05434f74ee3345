//! Running the real `tally` binary from a test, shared by the test files
//! that do (each compiles its own copy, so helpers one of them does not use
//! are not dead code to complain about).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn tally(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh folder of this test's own (named for the test file and the
/// process, so parallel runs never share one).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tally-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The command failed as a usage error (2) and said all of `words`.
#[track_caller]
pub fn refused(o: &Output, words: &[&str]) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {e}\nstdout: {}",
        stdout(o)
    );
    for w in words {
        assert!(e.contains(w), "{w:?} missing from: {e}");
    }
}
