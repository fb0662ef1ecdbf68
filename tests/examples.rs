//! Round trips: the shipped sample, the configs of the C captures, and
//! every example of the man page parse; the man pages lint clean.

use std::path::{Path, PathBuf};
use std::process::Command;

use wackamole::config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_file(p: &Path) -> config::Loaded {
    let text = std::fs::read_to_string(p).unwrap();
    match config::parse(&text, p) {
        Ok(l) => l,
        Err(e) => panic!("{} does not parse:\n{}", p.display(), e.lines().join("\n")),
    }
}

#[test]
fn the_sample_parses_without_warnings() {
    let l = parse_file(&root().join("wackamole.conf.sample"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config.group(), "wack1");
    assert_eq!(l.config.vifs().len(), 4);
    assert_eq!(l.config.notify().len(), 3);
}

#[test]
fn the_configs_of_the_c_captures_parse() {
    for name in [
        "three-hosts.conf",
        "prefer-join.tb3.conf",
        "c-2.1.4-sample.conf",
    ] {
        let l = parse_file(&root().join("tests/data").join(name));
        assert!(l.warnings.is_empty(), "{name}: {:?}", l.warnings);
        assert_eq!(l.config.group(), "wack1");
    }
    let l = parse_file(&root().join("tests/data/prefer-join.tb3.conf"));
    assert_eq!(
        l.config.preferred(),
        &["192.168.78.101".parse::<std::net::Ipv4Addr>().unwrap()]
    );
}

/// The `.Bd -literal` blocks of the EXAMPLES section, unescaped.
fn man_examples(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_examples = false;
    let mut block: Option<String> = None;
    for line in page.lines() {
        if let Some(sh) = line.strip_prefix(".Sh ") {
            in_examples = sh.trim() == "EXAMPLES";
            continue;
        }
        if !in_examples {
            continue;
        }
        if line.starts_with(".Bd -literal") {
            block = Some(String::new());
        } else if line.starts_with(".Ed") {
            out.extend(block.take());
        } else if let Some(b) = block.as_mut() {
            b.push_str(&line.replace("\\e", "\\").replace("\\&", ""));
            b.push('\n');
        }
    }
    out
}

#[test]
fn every_man_page_example_parses() {
    let page_path = root().join("man/wackamole.conf.5");
    let page = std::fs::read_to_string(&page_path).unwrap();
    let examples = man_examples(&page);
    assert!(
        examples.len() >= 3,
        "only {} examples in EXAMPLES",
        examples.len()
    );
    for (i, ex) in examples.iter().enumerate() {
        let name = format!("wackamole.conf.5 example {}", i + 1);
        if let Err(e) = config::parse(ex, Path::new(&name)) {
            panic!(
                "{name} does not parse:\n{}\n---\n{ex}",
                e.lines().join("\n")
            );
        }
    }
}

#[test]
fn man_pages_lint_clean_under_groff() {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("man"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.len() == 1))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "no man pages");
    for p in pages {
        let out = Command::new("groff")
            .args(["-ww", "-z", "-mandoc"])
            .arg(&p)
            .output()
            .expect("groff is needed to lint the man pages (apt-get install groff-base)");
        assert!(out.status.success(), "groff failed on {}", p.display());
        assert!(
            out.stderr.is_empty(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
