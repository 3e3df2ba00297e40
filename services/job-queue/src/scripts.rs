//! The Lua scripts, loaded once and run with EVALSHA (reloaded after a Redis restart). The
//! scripts that change a job's state share the functions of `lua/lib.lua`, prepended to each.

use std::sync::LazyLock;

use fred::types::scripts::Script;

const LIB: &str = include_str!("lua/lib.lua");

fn with_lib(body: &str) -> Script {
    Script::from_lua(format!("{LIB}\n{body}"))
}

pub static ADD: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/add.lua")));
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/claim.lua")));
pub static COMPLETE: LazyLock<Script> =
    LazyLock::new(|| with_lib(include_str!("lua/complete.lua")));
pub static FAIL: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/fail.lua")));
pub static PROMOTE: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/promote.lua")));
pub static CANCEL: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/cancel.lua")));
pub static CANCEL_RUNNING: LazyLock<Script> =
    LazyLock::new(|| with_lib(include_str!("lua/cancel_running.lua")));
pub static RETRY: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/retry.lua")));
pub static DELETE_DEAD: LazyLock<Script> =
    LazyLock::new(|| with_lib(include_str!("lua/delete_dead.lua")));
pub static RESUME: LazyLock<Script> = LazyLock::new(|| with_lib(include_str!("lua/resume.lua")));
pub static STORE_FILE: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/store_file.lua")));
pub static LIST: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/list.lua")));
