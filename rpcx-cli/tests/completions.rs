//! `rpcx completions SHELL`: scripts generated from the command definition, valid for the
//! shell, naming every command and the newer flags.

mod common;

use std::process::Command;

fn completions(shell: &str) -> (Option<i32>, String) {
    let (code, stdout, _) = common::rpcx(&["completions", shell]);
    (code, stdout)
}

#[test]
fn every_shell_gets_a_script_naming_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, script) = completions(shell);
        assert_eq!(code, Some(0), "{shell}");
        for word in [
            "call",
            "list",
            "describe",
            "upload",
            "download",
            "proto",
            "output",
            "import-path",
        ] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
}

#[test]
fn the_bash_script_parses() {
    let (_, script) = completions("bash");
    let dir = std::env::temp_dir().join(format!("rpcx-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rpcx.bash");
    std::fs::write(&file, &script).unwrap();
    let status = Command::new("bash").arg("-n").arg(&file).status();
    std::fs::remove_dir_all(&dir).ok();
    match status {
        Ok(s) => assert!(s.success(), "bash -n rejected the script"),
        Err(e) => eprintln!("SKIP: no bash to check the script with: {e}"),
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    assert_eq!(completions("tcsh").0, Some(2));
}
