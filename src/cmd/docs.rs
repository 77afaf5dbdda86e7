//! `loadgen completions SHELL` and `loadgen man`: generated from the clap definitions, so they
//! never drift from the flags.

use clap::CommandFactory;
use std::io::Write;

use crate::cli::{Cli, CompletionsArgs, ManArgs};

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut full_command(), "loadgen", &mut script);
    write_stdout(&script)
}

/// The manual page of `loadgen` (its commands listed), or of `loadgen COMMAND`.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let root = full_command();
    let page_of = match &args.command {
        None => root.clone(),
        Some(name) => {
            let Some(sub) = root.find_subcommand(name) else {
                let known: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!("no command `{name}`; the commands are {}", known.join(", "));
            };
            let full = format!("loadgen-{name}");
            sub.clone()
                .name(full.clone())
                .bin_name(format!("loadgen {name}"))
                .display_name(full)
        }
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(page_of).render(&mut page)?;
    write_stdout(&page)
}

/// The command tree as `--help` shows it, examples included.
fn full_command() -> clap::Command {
    crate::cli_examples::with_examples(Cli::command())
}

/// A closed pipe (`loadgen man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
