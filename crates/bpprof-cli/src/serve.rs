//! `bpprof serve`: the live page (and its `/api/v1`) over a recording file, with a time slider,
//! served by `bpprof-live` as the runtime serves a running pipeline.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bpprof_live::{parse_address, Endpoint, EndpointOptions, History};

use crate::locate::read_failure;
use crate::Failure;

/// Arguments of `bpprof serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The recording to browse (a `.bpprof` file written by the bpprof recorder; a rotated recording's series of files is named by its directory, a quoted glob pattern
    /// (`'out.*.bpprof'`) or its base name (`out.bpprof`)).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// Where to listen: a port alone (`9464`, on 127.0.0.1), `localhost:PORT`, or an IP address
    /// with a port (`0.0.0.0:9464` to serve other machines: the page is not authenticated).
    /// Port 0 picks a free port; the line on stderr says which.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:9464")]
    pub address: String,
}

/// Runs `bpprof serve`: reads the recording, binds, prints where, and serves until killed.
pub fn run(args: &ServeArgs, err: &mut dyn Write) -> anyhow::Result<()> {
    let address = parse_address(&args.address).map_err(|e| {
        Failure::bad_input(
            format!("--address {}: {e}", args.address),
            "give a port (9464) or an IP address with a port (127.0.0.1:9464)",
        )
    })?;
    let recording =
        bpprof_format::read_path(&args.recording).map_err(|e| read_failure(&args.recording, e))?;
    let name = args.recording.display().to_string();
    if recording.intervals.is_empty() {
        return Err(Failure::bad_input(
            format!("recording '{name}' holds no complete interval"),
            "record for at least one interval (BPPROF_INTERVAL_MS, 100 ms by default)",
        )
        .into());
    }
    for warning in &recording.warnings {
        // Advisory, as for `locate`: a closed stderr must not stop the server.
        let _ = writeln!(err, "warning: {warning}");
    }
    let history = History::from_recording(recording);
    let options = EndpointOptions::recording(&history, &name);
    let seconds = options.history.as_secs();
    let endpoint = Endpoint::new(options, Arc::new(history));
    let server = bpprof_live::serve(address, endpoint, Box::new(|| ())).map_err(|e| {
        Failure::bad_input(
            e.to_string(),
            "stop what listens there or give another address with --address (port 0 picks a free one)",
        )
    })?;
    let at = server.local_addr();
    if !at.ip().is_loopback() {
        let _ = writeln!(
            err,
            "warning: serving on {at}, not loopback: whoever reaches it can read the recording"
        );
    }
    let _ = writeln!(
        err,
        "bpprof: serving '{name}' ({seconds} s) on http://{at}/ (read-only; Ctrl-C stops)"
    );
    let _ = err.flush();
    server.wait();
    Ok(())
}
