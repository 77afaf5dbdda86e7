//! Profiles without a duration: `start` runs until interrupted, `simulate` asks for one.

use std::process::Command;

const PROFILE: &str = "name = \"endless\"\ndescription = \"Open-ended\"\norders_per_minute = 30\nconcurrent_workflows = 5\n";

fn loadgen(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .current_dir(dir)
        .args(args)
        .env_remove("LOADGEN_API_URL")
        .output()
        .expect("run loadgen")
}

#[test]
fn an_open_ended_profile_runs_until_interrupted_and_simulate_needs_a_duration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("endless.toml"), PROFILE).unwrap();

    let listed = loadgen(dir.path(), &["profiles", "--profile-file", "endless.toml"]);
    assert_eq!(listed.status.code(), Some(0));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("endless - Open-ended"), "{text}");
    assert!(text.contains("Duration: until interrupted"), "{text}");

    let dry = loadgen(
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
    assert_eq!(dry.status.code(), Some(0));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("Duration: until interrupted"), "{text}");
    assert!(
        !text.contains("Over the run"),
        "no totals for an endless run: {text}"
    );

    let sim = loadgen(
        dir.path(),
        &[
            "simulate",
            "--profile-file",
            "endless.toml",
            "-o",
            "t.trace",
        ],
    );
    assert_eq!(sim.status.code(), Some(2));
    let err = String::from_utf8_lossy(&sim.stderr);
    assert!(
        err.contains("open-ended") && err.contains("--duration"),
        "{err}"
    );
    assert!(!dir.path().join("t.trace").exists());

    let sim = loadgen(
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
    assert_eq!(
        sim.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    assert!(dir.path().join("t.trace").exists());
}

#[test]
fn simulating_into_a_fifo_writes_through_it_and_leaves_it_a_fifo() {
    // Like `-o /dev/null`: a target that is not a regular file must not be renamed over.
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::fs::File::open(reader_path)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    });
    let out = loadgen(dir.path(), &["simulate", "--duration", "5m", "-o", "pipe"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let through_fifo = reader.join().unwrap();
    let file = loadgen(
        dir.path(),
        &["simulate", "--duration", "5m", "-o", "t.trace"],
    );
    assert_eq!(file.status.code(), Some(0));
    assert_eq!(
        through_fifo,
        std::fs::read(dir.path().join("t.trace")).unwrap()
    );
    let kind = std::fs::metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the fifo was replaced by a file");
}
