//! `loadgen completions` and `loadgen man` are generated from the command line's definitions.

#[path = "common/harness.rs"]
mod harness;

use clap::CommandFactory;

fn subcommands() -> Vec<String> {
    loadgen::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn every_shell_gets_a_script_that_knows_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let commands = subcommands();
    assert!(commands.len() >= 10, "{commands:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = harness::loadgen_in(dir.path(), &["completions", shell]);
        harness::assert_exit(&out, 0, shell);
        let script = harness::stdout(&out);
        for command in &commands {
            assert!(script.contains(command.as_str()), "{shell}: no `{command}`");
        }
    }
    let bash = harness::stdout(&harness::loadgen_in(dir.path(), &["completions", "bash"]));
    assert!(bash.contains("complete -F _loadgen"), "{bash}");
    assert!(bash.contains("--speed"), "replay's flags are completed");
}

#[test]
fn the_man_page_lists_every_command_and_each_has_its_own_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = harness::loadgen_in(dir.path(), &["man"]);
    harness::assert_exit(&out, 0, "man");
    let page = harness::stdout(&out);
    assert!(page.contains(".TH loadgen 1"), "{page}");
    for command in subcommands() {
        assert!(
            page.contains(&format!("loadgen\\-{command}")),
            "no `{command}` in the page"
        );
        let out = harness::loadgen_in(dir.path(), &["man", &command]);
        harness::assert_exit(&out, 0, &command);
        let sub = harness::stdout(&out);
        assert!(sub.contains(&format!(".TH loadgen-{command} 1")), "{sub}");
    }
    let out = harness::loadgen_in(dir.path(), &["man", "nope"]);
    harness::assert_exit(&out, 2, "an unknown command");
    assert!(harness::stderr(&out).contains("replay"));
}
