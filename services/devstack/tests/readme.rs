//! The README's configuration tables list every environment variable both services read.

use clap::CommandFactory;

fn env_vars(command: clap::Command) -> Vec<String> {
    command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_environment_variable_is_documented() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the repository root");
    let mut vars = env_vars(sse_gateway::GatewayConfig::command());
    vars.extend(env_vars(resume_worker::WorkerConfig::command()));
    assert!(
        vars.len() > 30,
        "both services read their settings from the environment"
    );
    let missing: Vec<&String> = vars
        .iter()
        .filter(|v| !readme.contains(&format!("`{v}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not document {missing:?}"
    );
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_readme_starts_with_the_run_and_test_commands() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let first_block = readme
        .split("```")
        .nth(1)
        .expect("README.md has a code block");
    assert!(
        first_block.contains("cargo run -p devstack")
            && first_block.contains("bash scripts/test.sh"),
        "the first code block shows how to run and how to test: {first_block}"
    );
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.contains("bash scripts/test.sh"),
        "CI runs the README's test command"
    );
}

/// Every relative link `](path)` in README.md and docs/*.md names a file or folder that exists.
#[test]
fn relative_links_in_the_docs_point_to_files() {
    let mut pages = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            if !page.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(pages.len() > 5, "README.md and the docs were read");
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}
