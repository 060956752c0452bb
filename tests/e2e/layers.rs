//! The layers of `shared` import downwards only: functions → http → usecases → {providers,
//! ports, domain, wire, messages}; adapters → {ports, domain, messages}; only the composition root
//! (`app.rs`, with `bootstrap.rs` and `lib.rs` above it) names the adapters. Test code may use the
//! in-memory adapters; it is left out (a file's `#[cfg(test)]` module and `tests.rs` files).

use e2e_tests::workspace_root;
use std::path::{Path, PathBuf};

/// Each `.rs` file under `dir`, with its non-test text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            out.push((path, code));
        }
    }
    out
}

/// The lines of the non-test code under `shared/src/<layer>` that name one of `forbidden`.
fn crossings(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = workspace_root().join("shared/src");
    let path = root.join(layer);
    let files = if path.is_dir() {
        sources(&path)
    } else {
        sources(&root)
            .into_iter()
            .filter(|(p, _)| p == &path)
            .collect()
    };
    assert!(!files.is_empty(), "no sources for {layer}");
    let mut found = Vec::new();
    for (file, code) in files {
        for (i, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if let Some(f) = forbidden.iter().find(|f| line.contains(*f)) {
                let file = file.strip_prefix(&root).unwrap().display();
                found.push(format!("{file}:{}: {f}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

const ABOVE_USECASES: &[&str] = &[
    "crate::http",
    "lambda_http",
    "crate::app",
    "crate::Deps",
    "crate::bootstrap",
];

#[test]
fn use_cases_know_neither_http_nor_the_composition_root_nor_any_adapter() {
    let mut forbidden = ABOVE_USECASES.to_vec();
    forbidden.push("crate::adapters");
    assert_eq!(crossings("usecases", &forbidden), Vec::<String>::new());
}

#[test]
fn providers_know_no_use_case_and_no_adapter() {
    let mut forbidden = ABOVE_USECASES.to_vec();
    forbidden.extend(["crate::usecases", "crate::adapters"]);
    assert_eq!(crossings("providers", &forbidden), Vec::<String>::new());
}

#[test]
fn adapters_implement_ports_without_knowing_who_calls_them() {
    let mut forbidden = ABOVE_USECASES.to_vec();
    forbidden.extend(["crate::usecases", "crate::providers"]);
    assert_eq!(crossings("adapters", &forbidden), Vec::<String>::new());
}

#[test]
fn the_bottom_layers_import_nothing_above_them() {
    let mut forbidden = ABOVE_USECASES.to_vec();
    forbidden.extend(["crate::usecases", "crate::providers", "crate::adapters"]);
    for layer in [
        "domain",
        "ports",
        "wire",
        "messages.rs",
        "config",
        "error.rs",
        "secrets.rs",
    ] {
        let mut allowed = forbidden.clone();
        // Secrets are fetched through the AWS client plumbing.
        if layer == "secrets.rs" {
            allowed.retain(|f| *f != "crate::adapters");
        }
        assert_eq!(crossings(layer, &allowed), Vec::<String>::new(), "{layer}");
    }
}

#[test]
fn http_is_the_only_layer_that_speaks_lambda_http_below_the_functions() {
    for layer in [
        "usecases",
        "providers",
        "adapters",
        "domain",
        "ports",
        "wire",
        "config",
    ] {
        assert_eq!(
            crossings(layer, &["lambda_http"]),
            Vec::<String>::new(),
            "{layer}"
        );
    }
}
