//! `init_from_env`. Environment variables are process-wide, so these tests live in their own
//! test binary and hold one lock while they change them.

use std::sync::Mutex;

use bpprof::{init_from_env, RecorderError, ENV_INTERVAL_MS, ENV_OUT};

static ENV_LOCK: Mutex<()> = Mutex::new(());

fn with_env(out: Option<&std::ffi::OsStr>, interval: Option<&str>, f: impl FnOnce()) {
    let _lock = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    match out {
        Some(v) => std::env::set_var(ENV_OUT, v),
        None => std::env::remove_var(ENV_OUT),
    }
    match interval {
        Some(v) => std::env::set_var(ENV_INTERVAL_MS, v),
        None => std::env::remove_var(ENV_INTERVAL_MS),
    }
    f();
    std::env::remove_var(ENV_OUT);
    std::env::remove_var(ENV_INTERVAL_MS);
}

#[test]
fn unset_or_empty_out_records_nothing() {
    with_env(None, None, || {
        assert!(init_from_env().unwrap().is_none());
    });
    with_env(Some("".as_ref()), Some("250"), || {
        assert!(init_from_env().unwrap().is_none());
    });
}

#[test]
fn out_and_interval_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.bpprof");
    with_env(Some(path.as_os_str()), Some(" 250 "), || {
        let recorder = init_from_env().unwrap().expect("a recorder");
        assert_eq!(recorder.path(), path);
        let summary = recorder.stop().unwrap();
        let recording = bpprof_format::read_file(&summary.path).unwrap();
        assert!(recording.warnings.is_empty(), "{:?}", recording.warnings);
        assert!(recording.end.is_some());
        assert_eq!(recording.meta.interval_ns, 250_000_000);
    });
}

#[test]
fn a_bad_interval_in_the_environment_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.bpprof");
    for bad in ["abc", "50", "-1", ""] {
        with_env(Some(path.as_os_str()), Some(bad), || {
            let err = init_from_env().map(|_| ()).unwrap_err();
            assert!(
                matches!(err, RecorderError::InvalidInterval(_)),
                "{bad:?}: {err:?}"
            );
        });
    }
    assert!(!path.exists());
}

#[test]
fn an_unwritable_out_names_the_path_and_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("x.bpprof");
    with_env(Some(path.as_os_str()), None, || {
        let err = init_from_env().map(|_| ()).unwrap_err();
        assert!(matches!(err, RecorderError::CreateFile { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(ENV_OUT), "{message}");
    });
}
