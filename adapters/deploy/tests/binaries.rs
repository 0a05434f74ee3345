//! Every function of the deployment has its binary in tally-lambda, and
//! every binary runs the function of its own name: the template points each function at
//! `target/lambda/<name>/bootstrap`, which `cargo lambda build` makes from
//! the binary of that name.

use std::path::Path;
use tally_deploy::FUNCTIONS;

#[test]
fn each_function_has_a_binary_that_runs_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lambda");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for f in FUNCTIONS {
        let path = root.join("src/bin").join(format!("{}.rs", f.name));
        let main = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("function {}: {}: {e}", f.name, path.display()));
        assert!(
            main.contains(&format!("tally_aws::lambda::main(\"{}\")", f.name)),
            "{} does not run the {} function",
            path.display(),
            f.name
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{}\"\npath = \"src/bin/{}.rs\"",
                f.name, f.name
            )),
            "Cargo.toml declares no [[bin]] {}",
            f.name
        );
    }
    let binaries = std::fs::read_dir(root.join("src/bin")).unwrap().count();
    assert_eq!(
        binaries,
        FUNCTIONS.len(),
        "a binary for a function the deployment lacks"
    );
}
