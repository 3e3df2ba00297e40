//! The Lua scripts, loaded once and run with EVALSHA (reloaded after a Redis restart).

use std::sync::LazyLock;

use fred::types::scripts::Script;

pub static ADD: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("lua/add.lua")));
pub static CLAIM: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/claim.lua")));
pub static COMPLETE: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/complete.lua")));
pub static FAIL: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/fail.lua")));
pub static PROMOTE: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/promote.lua")));
pub static STORE_FILE: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/store_file.lua")));
pub static LIST: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/list.lua")));
