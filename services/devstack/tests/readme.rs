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
