//! Stops a `capjit run` from outside the program: after `--timeout`, or when the
//! user presses Ctrl-C. Either ends the process with a message on standard error
//! and exit code 124 (timeout, as coreutils' `timeout`) or 130 (128 + SIGINT).
//!
//! The process ends, not just the program: capjit has no way yet to interrupt
//! generated code from another thread (issue 17 adds an `interrupted` trap checked
//! where fuel is). What the program wrote through WASI is already in its files and
//! pipes; `std::process::exit` flushes capjit's own buffered standard output.

use std::time::Duration;

/// Exit code after `--timeout`.
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A `--timeout` value: `2s`, `500ms`, `1m 30s`, or a plain number of seconds.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let parsed = match t.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Duration::try_from_secs_f64(seconds).ok(),
        Ok(_) => None,
        Err(_) => humantime::parse_duration(t).ok(),
    };
    match parsed {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(format!("`{text}`: a timeout must be longer than zero")),
        None => Err(format!("`{text}` is not a duration (e.g. 10, 2s, 500ms, 1m)")),
    }
}

/// Watch the rest of the run: stop the process after `timeout` (if any) and on
/// Ctrl-C. A handler that cannot be installed (another one already is) is a
/// warning, not a failure.
pub fn arm(timeout: Option<Duration>) {
    if let Err(e) = ctrlc::set_handler(|| stop("interrupted (Ctrl-C)", EXIT_INTERRUPTED)) {
        eprintln!("warning: Ctrl-C will not stop the run cleanly: {e}");
    }
    if let Some(limit) = timeout {
        let spawned = std::thread::Builder::new()
            .name("capjit-timeout".into())
            .spawn(move || {
                std::thread::sleep(limit);
                let message = format!(
                    "the program ran longer than --timeout {}",
                    humantime::format_duration(limit)
                );
                stop(&message, EXIT_TIMEOUT);
            });
        if let Err(e) = spawned {
            eprintln!("warning: --timeout is not armed: {e}");
        }
    }
}

fn stop(message: &str, code: u8) {
    eprintln!("error: {message}; stopped");
    std::process::exit(code.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_timeout("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("inf").is_err());
    }
}
