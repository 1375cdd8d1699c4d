//! The run's clock: replay (the largest event time seen) or wall (the machine's UTC clock).

use crate::graph::ClockMode;

/// The clock of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    mode: ClockMode,
    now: Option<i64>,
}

impl Clock {
    /// A clock not yet started (`now()` is `()` until the first event).
    pub fn new(mode: ClockMode) -> Self {
        Self { mode, now: None }
    }

    /// A clock at a known time (restoring a snapshot).
    pub fn at(mode: ClockMode, now: Option<i64>) -> Self {
        Self { mode, now }
    }

    /// The current time, microseconds since the epoch.
    pub fn now(&self) -> Option<i64> {
        self.now
    }

    /// Which clock this is.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// Advances for an event: replay takes the max with the event time (never backwards);
    /// wall reads the machine clock.
    pub fn advance(&mut self, event_time: Option<i64>) {
        match self.mode {
            ClockMode::Replay => {
                if let Some(t) = event_time {
                    self.now = Some(self.now.map_or(t, |now| now.max(t)));
                }
            }
            ClockMode::Wall => self.now = Some(wall_clock_micros()),
        }
    }
}

/// The only place that reads the machine's clock.
#[expect(clippy::disallowed_methods, reason = "the wall clock is the one place system time is read")]
fn wall_clock_micros() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}
