//! The `Examples:` section of each command's `--help`, the spec's CLI examples among them.
//! They are added to the clap definitions in one place (`with_examples`), so `--help`, the
//! man pages and the completions all come from the same command tree.

/// Examples per subcommand, as shell lines with a comment each.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "profiles",
        "  loadgen profiles                              # the four built-in profiles
  loadgen profiles --profile-file my.toml       # and a custom one, validated",
    ),
    (
        "simulate",
        "  loadgen simulate --seed 42 -o day.trace                       # the demo profile, 30 min
  loadgen simulate --profile standard --duration 24h -o day.trace  # a whole weekday
  loadgen simulate --start 2026-01-05T00:00:00-05:00 --duration 24h -o ny.trace
  loadgen simulate --world world.json -o live.trace                # a live install's data
  loadgen simulate -o - | loadgen replay - --api-url http://127.0.0.1:8080",
    ),
    (
        "inspect",
        "  loadgen inspect day.trace
  loadgen simulate --profile stress --duration 1h -o - | loadgen inspect -",
    ),
    (
        "export",
        "  loadgen export day.trace -o day.csv
  loadgen export day.trace --format jsonl | head",
    ),
    (
        "replay",
        "  loadgen replay day.trace --api-url http://127.0.0.1:8080              # real time
  loadgen replay day.trace --speed 10x --report run.json                 # 10x, with a report
  loadgen replay day.trace --speed max --concurrency 64                  # as fast as it goes
  loadgen replay day.trace --from 17:00 --to 20:00 --speed 5x            # the evening peak
  loadgen replay --resume run.json.checkpoint                            # after Ctrl+C or a crash
  loadgen replay day.trace --probe-reads 1% --report run.json            # write -> visible
  loadgen replay day.trace --shard 0/4 --run-id big --start-at 2026-12-01T10:00:00Z  # 1 of 4 machines
  loadgen replay day.trace --metrics-addr 127.0.0.1:9464                 # Prometheus scrapes it
  loadgen replay day.trace --speed 10x --events-out events.csv           # one row per event
  loadgen replay day.trace --threshold 'p99<500ms' --threshold 'success>=99.5%'  # exit 99 if not
  loadgen replay day.trace --thresholds ci.toml --abort-on-threshold     # stop once lost",
    ),
    (
        "health",
        "  loadgen health
  loadgen health http://localhost:8080",
    ),
    (
        "verify",
        "  loadgen verify day.trace --api-url http://127.0.0.1:8080 --run-id r3lq62h
  loadgen verify day.trace --run-id r3lq62h --from 17:00 --to 20:00 --report verify.json",
    ),
    (
        "start",
        "  loadgen start                                              # demo profile, as the spec
  loadgen start --profile standard --duration 30             # standard profile, 30 minutes
  loadgen start --api-url http://freshmart.example.com:8080  # a remote API
  loadgen start --profile demo --seed 42 --start-at 2026-01-05T12:00:00Z --run-id demo42
  loadgen start --profile stress --dry-run                   # the configuration, nothing sent
  loadgen start --profile demo --verbose                     # every failure as it happens
  loadgen start --duration 0 --record live.trace             # until Ctrl+C, recorded
  loadgen start --metrics-addr 127.0.0.1:9464 --events-out events.jsonl
  loadgen start --duration 10 --threshold 'new_order.p95<300ms' --report run.json",
    ),
    (
        "world",
        "  loadgen world --api-url http://localhost:8080 -o world.json",
    ),
    (
        "completions",
        "  loadgen completions bash > ~/.local/share/bash-completion/completions/loadgen
  loadgen completions zsh > ~/.zfunc/_loadgen",
    ),
    (
        "man",
        "  loadgen man > loadgen.1 && man -l loadgen.1
  loadgen man replay | man -l -",
    ),
    (
        "cleanup",
        "  loadgen cleanup day.trace --api-url http://127.0.0.1:8080 --run-id r3lq62h --dry-run
  loadgen cleanup day.trace --api-url http://127.0.0.1:8080 --run-id r3lq62h
  loadgen cleanup day.trace --api-url http://127.0.0.1:8080 --run-id r3lq62h --restore-stock",
    ),
    (
        "merge",
        "  loadgen merge r0.json r1.json r2.json r3.json -o total.json   # a 4-shard run, whole
  loadgen merge results/r*.json -o total.json --min-success 99%   # gate on the whole run
  loadgen merge r0.json r1.json                                   # the summary only
  loadgen merge r*.json -o total.json --threshold 'p99<500ms'     # gate the whole run (99)",
    ),
    (
        "report",
        "  loadgen report run.json                          # run.html: charts, tables, metadata
  loadgen report run.json -o run.html
  loadgen report base.json new.json -o both.html   # two runs overlaid on trace time
  loadgen report run.json --format md >> comment.md  # a pull request comment
  loadgen report run.json --format text            # the console summary again",
    ),
    (
        "compare",
        "  loadgen compare base.json new.json                     # exit 3 on a regression
  loadgen compare base.json new.json --noise 10% --format md
  loadgen compare base.json new.json --format json -o compare.html
  loadgen compare base.json new.json --threshold 'p99<500ms'  # and gate the new run (99)",
    ),
];

/// `command` with each subcommand's examples placed before its exit codes in `--help`.
pub fn with_examples(mut command: clap::Command) -> clap::Command {
    for (name, examples) in EXAMPLES {
        command = command.mut_subcommand(*name, |sub| {
            let tail = sub
                .get_after_help()
                .map(|h| format!("\n\n{h}"))
                .unwrap_or_default();
            sub.after_long_help(format!("Examples:\n{examples}{tail}"))
        });
    }
    command
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_has_examples_that_name_it() {
        let command = super::with_examples(crate::cli::Cli::command());
        for sub in command.get_subcommands() {
            let help = sub
                .get_after_long_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.starts_with("Examples:\n")
                    && help.contains(&format!("loadgen {}", sub.get_name())),
                "`{}` has no examples: {help}",
                sub.get_name()
            );
            // The exit codes stay in the long help too.
            if let Some(codes) = sub.get_after_help() {
                assert!(help.ends_with(&codes.to_string()), "{}", sub.get_name());
            }
        }
    }
}
