//! Profiles without a duration: `start` runs until interrupted, `simulate` asks for one.

#[path = "common/harness.rs"]
mod harness;

use harness::{assert_exit, loadgen_in};

const PROFILE: &str = "name = \"endless\"\ndescription = \"Open-ended\"\norders_per_minute = 30\nconcurrent_workflows = 5\n";

#[test]
fn an_open_ended_profile_runs_until_interrupted_and_simulate_needs_a_duration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("endless.toml"), PROFILE).unwrap();

    let listed = loadgen_in(dir.path(), &["profiles", "--profile-file", "endless.toml"]);
    assert_exit(&listed, 0, "profiles");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("endless - Open-ended"), "{text}");
    assert!(text.contains("Duration: until interrupted"), "{text}");

    let dry = loadgen_in(
        dir.path(),
        &[
            "start",
            "--profile-file",
            "endless.toml",
            "--dry-run",
            "--seed",
            "1",
        ],
    );
    assert_exit(&dry, 0, "start --dry-run");
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("Duration: until interrupted"), "{text}");
    assert!(
        !text.contains("Over the run"),
        "no totals for an endless run: {text}"
    );

    let sim = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--profile-file",
            "endless.toml",
            "-o",
            "t.trace",
        ],
    );
    assert_exit(&sim, 2, "simulate without a duration");
    let err = String::from_utf8_lossy(&sim.stderr);
    assert!(
        err.contains("open-ended") && err.contains("--duration"),
        "{err}"
    );
    assert!(!dir.path().join("t.trace").exists());

    let sim = loadgen_in(
        dir.path(),
        &[
            "simulate",
            "--profile-file",
            "endless.toml",
            "--duration",
            "10m",
            "-o",
            "t.trace",
        ],
    );
    assert_exit(&sim, 0, "simulate --duration 10m");
    assert!(dir.path().join("t.trace").exists());
}

#[test]
fn simulating_into_a_fifo_writes_through_it_and_leaves_it_a_fifo() {
    // Like `-o /dev/null`: a target that is not a regular file must not be renamed over.
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    harness::mkfifo(&fifo);
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::fs::File::open(reader_path)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    });
    let out = loadgen_in(dir.path(), &["simulate", "--duration", "5m", "-o", "pipe"]);
    assert_exit(&out, 0, "simulate into the fifo");
    let through_fifo = reader.join().unwrap();
    let file = loadgen_in(
        dir.path(),
        &["simulate", "--duration", "5m", "-o", "t.trace"],
    );
    assert_exit(&file, 0, "simulate into a file");
    assert_eq!(
        through_fifo,
        std::fs::read(dir.path().join("t.trace")).unwrap()
    );
    let kind = std::fs::metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the fifo was replaced by a file");
}
