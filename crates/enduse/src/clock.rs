//! The clock and the hooks, injected: the library never reads the time or
//! the environment on its own, so that a front end (or a test) decides what
//! "today" is and what happens at the points a test needs to reach.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

/// Where "now" comes from.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock stopped at noon (UTC) of `day`.
    pub fn fixed_day(day: NaiveDate) -> Self {
        let t = day
            .and_hms_opt(12, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now);
        Clock(Arc::new(move || t))
    }

    /// Any clock.
    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Today (UTC).
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// The clock of this process: the system clock, or, in a build with the
    /// `test-hooks` feature, the day `ENDUSE_TODAY` names (tests pin the
    /// clock so that snapshots do not change from day to day).
    pub fn from_process() -> Self {
        #[cfg(feature = "test-hooks")]
        if let Some(d) = std::env::var("ENDUSE_TODAY")
            .ok()
            .and_then(|s| enduse_core::parse_day(&s).ok())
        {
            return Clock::fixed_day(d);
        }
        Clock::system()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// A hook called with a name (a phase, a file).
pub type NameHook = Arc<dyn Fn(&str) + Send + Sync>;
/// A hook called with (done, in all).
pub type CountHook = Arc<dyn Fn(u64, u64) + Send + Sync>;
/// A hook that may fail a write, called with a file's name.
pub type WriteHook = Arc<dyn Fn(&str) -> std::io::Result<()> + Send + Sync>;

/// Callbacks at the points of a long write that a test must reach: the
/// phases of an import, and the moment half of its rows are written (inside
/// its transaction). None by default.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Called with each phase of an import as it starts (`validating`,
    /// `comparing`, `writing`).
    pub phase: Option<NameHook>,
    /// Called once, when half of an import's rows are written and the
    /// transaction is still open, with (rows written, rows in all).
    pub halfway_writing: Option<CountHook>,
    /// Called before each file an export writes, with its name; an error
    /// stops the export as a failed write would (a full disk, say).
    pub export_file: Option<WriteHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("phase", &self.phase.is_some())
            .field("halfway_writing", &self.halfway_writing.is_some())
            .field("export_file", &self.export_file.is_some())
            .finish()
    }
}

impl Hooks {
    /// The hooks of this process: none, or, in a build with the
    /// `test-hooks` feature, those the environment asks for:
    /// `ENDUSE_TEST_PHASES` prints `phase: NAME` to standard error at each
    /// phase; `ENDUSE_TEST_PAUSE_WRITING` prints `paused: N/M` halfway
    /// through an import's writing and sleeps there for 600 s, so that a
    /// test can kill the process inside its transaction;
    /// `ENDUSE_TEST_FAIL_EXPORT_AFTER=N` makes an export fail after N files.
    pub fn from_process() -> Self {
        #[cfg(feature = "test-hooks")]
        {
            let mut h = Hooks::default();
            if std::env::var_os("ENDUSE_TEST_PHASES").is_some() {
                h.phase = Some(Arc::new(|p: &str| eprintln!("phase: {p}")));
            }
            if std::env::var_os("ENDUSE_TEST_PAUSE_WRITING").is_some() {
                h.halfway_writing = Some(Arc::new(|d: u64, t: u64| {
                    eprintln!("paused: {d}/{t}");
                    std::thread::sleep(std::time::Duration::from_secs(600));
                }));
            }
            if let Some(n) = std::env::var("ENDUSE_TEST_FAIL_EXPORT_AFTER")
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                let count = std::sync::atomic::AtomicUsize::new(0);
                h.export_file = Some(Arc::new(move |_: &str| {
                    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= n {
                        Err(std::io::Error::other("no space left on device (test hook)"))
                    } else {
                        Ok(())
                    }
                }));
            }
            h
        }
        #[cfg(not(feature = "test-hooks"))]
        Hooks::default()
    }

    pub(crate) fn phase(&self, p: &str) {
        if let Some(f) = &self.phase {
            f(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_is_noon_of_its_day() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let c = Clock::fixed_day(d);
        assert_eq!(c.today(), d);
        assert_eq!(c.now().to_rfc3339(), "2026-11-01T12:00:00+00:00");
    }

    /// Without the `test-hooks` feature (a release build of a front end),
    /// the environment cannot move the clock or add hooks. (With it, as when
    /// the whole workspace is tested, this test is left out.)
    #[cfg(not(feature = "test-hooks"))]
    #[test]
    fn without_the_feature_the_environment_sets_no_hook() {
        std::env::set_var("ENDUSE_TODAY", "2001-01-01");
        std::env::set_var("ENDUSE_TEST_PAUSE_WRITING", "1");
        assert_ne!(Clock::from_process().today().to_string(), "2001-01-01");
        let h = Hooks::from_process();
        assert!(h.halfway_writing.is_none() && h.phase.is_none() && h.export_file.is_none());
    }
}
