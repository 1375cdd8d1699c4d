//! The run's clock: replay (the largest event time seen) or wall (the machine's UTC clock).

use crate::graph::ClockMode;

/// Where a wall clock reads the time: microseconds since the epoch.
pub type WallClock = fn() -> i64;

/// The clock of one run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    mode: ClockMode,
    now: Option<i64>,
    /// What wall mode reads: the machine's clock unless a test puts a mock in.
    wall: WallClock,
}

/// Two clocks are equal when they show the same time in the same mode (whatever they read).
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode && self.now == other.now
    }
}

impl Eq for Clock {}

impl Clock {
    /// A clock not yet started (`now()` is `()` until the first event).
    pub fn new(mode: ClockMode) -> Self {
        Self { mode, now: None, wall: wall_clock_micros }
    }

    /// A clock at a known time (restoring a snapshot).
    pub fn at(mode: ClockMode, now: Option<i64>) -> Self {
        Self { mode, now, wall: wall_clock_micros }
    }

    /// The same clock, reading `wall` instead of the machine's clock in wall mode.
    pub fn with_wall_clock(self, wall: WallClock) -> Self {
        Self { wall, ..self }
    }

    /// Sets the time (restoring a snapshot).
    pub fn set(&mut self, now: Option<i64>) {
        self.now = now;
    }

    /// The current time, microseconds since the epoch.
    pub fn now(&self) -> Option<i64> {
        self.now
    }

    /// What the wall clock reads now (whatever the mode): when a live run's next timer is due
    /// in real time.
    pub fn read_wall(&self) -> i64 {
        (self.wall)()
    }

    /// The clock, or before it is set what the wall clock reads: the time a live run records
    /// for text taken outside an event.
    pub fn now_or_wall(&self) -> i64 {
        self.now.unwrap_or_else(|| self.read_wall())
    }

    /// Which clock this is.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// Advances for an event: replay takes the max with the event time; wall reads the
    /// machine clock. Neither goes backwards: a machine clock stepped back (NTP, a VM resumed)
    /// leaves the clock where it was until the machine's time passes it again, so `now()` never
    /// decreases within a run (docs/time.md#the-clock).
    pub fn advance(&mut self, event_time: Option<i64>) {
        match self.mode {
            ClockMode::Replay => {
                if let Some(t) = event_time {
                    self.now = Some(self.now.map_or(t, |now| now.max(t)));
                }
            }
            ClockMode::Wall => {
                let wall = (self.wall)();
                self.now = Some(self.now.map_or(wall, |now| now.max(wall)));
            }
        }
    }
}

/// The only place that reads the machine's clock.
#[expect(clippy::disallowed_methods, reason = "the wall clock is the one place system time is read")]
pub(crate) fn wall_clock_micros() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}
