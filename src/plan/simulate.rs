//! `simulate`'s plan: the trace header and the simulation of a run of the simulator, settled
//! from the arguments, the loaded profile and the world.

use super::PlanError;
use crate::cli::SimulateArgs;
use crate::profile::LoadProfile;
use crate::sim::time::SimTime;
use crate::sim::SimConfig;
use crate::trace::TraceHeader;
use crate::world::World;

/// The simulation `simulate` writes, checked before any world is read.
pub struct SimulatePlan {
    pub config: SimConfig,
}

/// The files `simulate` reads and writes, by role, for `output::check_paths`.
pub fn paths(args: &SimulateArgs) -> super::Paths<&std::path::Path> {
    let mut inputs = Vec::new();
    inputs.extend(
        args.profile
            .profile_file
            .as_deref()
            .map(|p| ("--profile-file", p)),
    );
    inputs.extend(args.world.as_deref().map(|p| ("--world", p)));
    (inputs, vec![("-o", args.output.as_path())])
}

impl SimulatePlan {
    pub fn new(args: &SimulateArgs, profile: LoadProfile) -> Result<SimulatePlan, PlanError> {
        let start = chrono::DateTime::parse_from_rfc3339(&args.start).map_err(|e| {
            PlanError::usage(format!(
                "--start `{}` is not an RFC 3339 instant: {e}",
                args.start
            ))
        })?;
        if args.duration.is_some_and(|d| d.is_zero()) {
            return Err(PlanError::usage("--duration must be positive"));
        }
        let duration_ms = match args.duration {
            Some(d) => d.as_millis() as u64,
            None => u64::from(profile.duration_minutes) * 60_000,
        };
        if duration_ms == 0 {
            return Err(PlanError::usage(format!(
                "profile `{}` is open-ended: give --duration",
                profile.name
            )));
        }
        if duration_ms > crate::trace::format::MAX_DURATION_MS {
            return Err(PlanError::usage("--duration: at most 10 years"));
        }
        let config = SimConfig {
            seed: args.seed,
            profile,
            start,
            duration: SimTime(duration_ms),
        };
        Ok(SimulatePlan { config })
    }

    /// The header of the trace, on `world`.
    pub fn header(&self, world: World) -> TraceHeader {
        TraceHeader {
            generator: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            seed: self.config.seed,
            profile: self.config.profile.clone(),
            world,
            start: self.config.start.to_rfc3339(),
            duration_ms: self.config.duration.as_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(list: &[&str]) -> Result<SimulatePlan, PlanError> {
        let mut argv = vec!["loadgen", "simulate", "-o", "t.trace"];
        argv.extend_from_slice(list);
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        };
        let profile = LoadProfile::named(&args.profile.profile).unwrap();
        SimulatePlan::new(&args, profile)
    }

    #[test]
    fn the_paths_by_role() {
        let argv = ["loadgen", "simulate", "-o", "t.trace", "--world", "w.json"];
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        };
        let (inputs, outputs) = paths(&args);
        let path = std::path::Path::new;
        assert_eq!(inputs, [("--world", path("w.json"))]);
        assert_eq!(outputs, [("-o", path("t.trace"))]);
    }

    #[test]
    fn duration_start_and_seed() {
        let p = plan(&[
            "--duration",
            "90m",
            "--seed",
            "3",
            "--start",
            "2026-02-02T08:00:00+02:00",
        ])
        .unwrap();
        let header = p.header(crate::world::builtin_world());
        assert_eq!(header.duration_ms, 90 * 60_000);
        assert_eq!(p.config.duration, SimTime(90 * 60_000));
        assert_eq!((header.seed, p.config.seed), (3, 3));
        assert_eq!(header.start, "2026-02-02T08:00:00+02:00");
        let default = plan(&[]).unwrap();
        let demo = LoadProfile::named("demo").unwrap();
        assert_eq!(
            default.config.duration.as_ms(),
            u64::from(demo.duration_minutes) * 60_000
        );
        for (list, says) in [
            (&["--start", "9am"][..], "--start `9am`"),
            (&["--duration", "0"][..], "must be positive"),
        ] {
            let err = plan(list).err().unwrap();
            assert!(matches!(err, PlanError::Usage(_)), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
