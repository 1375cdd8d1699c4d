//! The workbench's engine thread: the only module that spawns a thread for the GUI.
//!
//! The UI [`spawn`]s a session and talks to it through a [`SessionHandle`]: it sends
//! [`Command`]s (never blocking: [`SessionHandle::send`] fails at once if the queue is full)
//! and drains [`Event`]s ([`SessionHandle::try_recv`], [`SessionHandle::drain`]), chiefly
//! [`RunView`]s to draw. A waker set with [`SessionHandle::set_waker`] runs after each batch of
//! events, so the UI can ask for a repaint.
//!
//! The thread (`eddy-session`) is a thin loop around [`Playback`], the synchronous replay
//! state machine: it applies commands as they come, works in slices of a few milliseconds
//! (so commands are answered while playing at full speed), and sends a view after each
//! command and at most about 60 a second while playing. Dropping the handle (or
//! [`SessionHandle::shutdown`]) ends the thread and joins it.

mod breakpoints;
mod command;
mod dropped;
mod event;
mod fast_play;
mod keyframes;
mod ledger;
mod packed;
mod playback;
mod snapshots;
mod throttled;
mod timeline;
mod timer_marks;
mod views;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

pub use command::{Breakpoint, Command, GraphSource, ReplaceMode, SnapshotId, Speed};
pub use event::{
    BreakpointHit, DROPPED_SHOWN, DroppedRow, DroppedView, ErrorView, Event, KeyChange, KeyRow, KeySeries,
    KeyTable, KeyframeUse, LOG_CAPACITY, LogEntry, LogKind, Metrics, NodePreview, Notice, NoticeLevel,
    PREVIEW_ITEMS, PipelineInfo, PositionSample, PreviewItem, Problem, RunView, SeriesPoint, SinkCounts,
    SnapshotContents, SnapshotDiff, SnapshotInfo, SnapshotKind, StateSample, Status, StepCounts, StepDiff,
    StepInfo, TIMERS_SHOWN, TimerView, TimersView, WallSample,
};
pub use keyframes::DEFAULT_KEYFRAME_BUDGET;
pub use playback::{MIN_KEYFRAME_EVERY, Playback, Work};

/// Commands waiting for the session thread, at most.
const COMMAND_CAPACITY: usize = 64;
/// Events waiting for the UI, at most (views beyond are replaced by the newest).
const EVENT_CAPACITY: usize = 64;
/// Work done between two looks at the command queue.
const SLICE: Duration = Duration::from_millis(8);
/// Views while playing, at most one per this.
const VIEW_INTERVAL: Duration = Duration::from_millis(16);
/// How long an idle thread sleeps between looks at its queue and stop flag.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// What the UI runs after each batch of events (typically `ctx.request_repaint()`).
pub type Waker = Box<dyn Fn() + Send>;

type SharedWaker = Arc<Mutex<Option<Waker>>>;

/// Why a command was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The queue is full (the session is busy); the command is handed back. Try again on a
    /// later frame.
    Full(Command),
    /// The session thread has ended; the command is handed back.
    Closed(Command),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Full(_) => write!(f, "the session's command queue is full"),
            SendError::Closed(_) => write!(f, "the session has ended"),
        }
    }
}

impl std::error::Error for SendError {}

/// The UI's side of a session: send commands, drain events. Dropping it ends the thread.
pub struct SessionHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    waker: SharedWaker,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("commands_queued", &self.commands.len())
            .field("events_queued", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Starts a session thread (`eddy-session`) with nothing loaded: send [`Command::Load`].
pub fn spawn() -> std::io::Result<SessionHandle> {
    let (command_sender, command_receiver) = crossbeam_channel::bounded(COMMAND_CAPACITY);
    let (event_sender, event_receiver) = crossbeam_channel::bounded(EVENT_CAPACITY);
    let waker: SharedWaker = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (waker, stop) = (Arc::clone(&waker), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("eddy-session".into())
            .stack_size(crate::script::ENGINE_STACK_SIZE)
            .spawn(move || {
            let outbox = Outbox { sender: event_sender, waker, queued: VecDeque::new(), view: None };
            run(command_receiver, outbox, &stop);
        })?
    };
    Ok(SessionHandle { commands: command_sender, events: event_receiver, waker, stop, thread: Some(thread) })
}

impl SessionHandle {
    /// Queues a command without blocking.
    pub fn send(&self, command: Command) -> Result<(), SendError> {
        self.commands.try_send(command).map_err(|e| match e {
            TrySendError::Full(c) => SendError::Full(c),
            TrySendError::Disconnected(c) => SendError::Closed(c),
        })
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The events waiting now, taking no longer than `budget` (about 10 ms per frame).
    pub fn drain(&self, budget: Duration) -> Vec<Event> {
        let deadline = Instant::now() + budget;
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
            if Instant::now() >= deadline {
                break;
            }
        }
        events
    }

    /// Waits up to `timeout` for the next event. Blocks: for tests and headless use, never
    /// for a UI frame.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Sets what runs after each batch of events the thread sends (replacing any before).
    pub fn set_waker(&self, waker: Waker) {
        if let Ok(mut slot) = self.waker.lock() {
            *slot = Some(waker);
        }
    }

    /// Whether the session thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Ends the session thread and waits for it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _full_or_closed = self.commands.try_send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _panicked = thread.join();
        }
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Events on their way to the UI: the channel never blocks the thread; what does not fit
/// waits here (views: only the newest).
struct Outbox {
    sender: Sender<Event>,
    waker: SharedWaker,
    queued: VecDeque<Event>,
    view: Option<Arc<RunView>>,
}

impl Outbox {
    /// Sends what fits; false when the UI side is gone.
    fn flush(&mut self) -> bool {
        let mut sent = false;
        let mut open = true;
        while let Some(event) = self.queued.pop_front() {
            match self.sender.try_send(event) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(event)) => {
                    self.queued.push_front(event);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    open = false;
                    break;
                }
            }
        }
        if open
            && self.queued.is_empty()
            && let Some(view) = self.view.take()
        {
            match self.sender.try_send(Event::View(view)) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(Event::View(view))) => self.view = Some(view),
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => open = false,
            }
        }
        if sent
            && let Ok(waker) = self.waker.lock()
            && let Some(wake) = waker.as_ref()
        {
            wake();
        }
        open
    }

    fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.view.is_none()
    }
}

/// The session thread's loop.
fn run(commands: Receiver<Command>, mut outbox: Outbox, stop: &AtomicBool) {
    let mut playback = Playback::new();
    let mut last_view: Option<Instant> = None;
    let mut wait = IDLE_WAIT;
    let mut owed = false;
    let mut was_busy = false;
    outbox.view = Some(playback.view());
    'session: while !stop.load(Ordering::Acquire) {
        // Commands: wait for one when idle, else only look.
        let first = if playback.is_busy() && wait.is_zero() {
            commands.try_recv().map_err(|e| matches!(e, TryRecvError::Disconnected))
        } else {
            let timeout = if outbox.is_empty() { wait } else { wait.min(Duration::from_millis(5)) };
            commands.recv_timeout(timeout).map_err(|e| matches!(e, RecvTimeoutError::Disconnected))
        };
        let mut handled = false;
        let mut next = first;
        loop {
            match next {
                Ok(Command::Shutdown) | Err(true) => break 'session,
                Ok(command) => {
                    playback.handle(command);
                    handled = true;
                }
                Err(false) => break,
            }
            next = commands.try_recv().map_err(|e| matches!(e, TryRecvError::Disconnected));
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        let work = playback.work(SLICE);
        wait = match work {
            Work::Busy => Duration::ZERO,
            Work::Wait(wait) => wait,
            Work::Idle => IDLE_WAIT,
        };
        outbox.queued.extend(playback.take_events());
        // A view is owed after a command or any work; while busy, at most one per interval.
        owed |= handled || work != Work::Idle || was_busy;
        was_busy = work != Work::Idle;
        let now = Instant::now();
        let view_due = last_view.is_none_or(|at| now.duration_since(at) >= VIEW_INTERVAL);
        if owed && (handled || !was_busy || view_due) {
            outbox.view = Some(if was_busy { playback.view_throttled(now) } else { playback.view() });
            last_view = Some(now);
            owed = false;
        }
        if !outbox.flush() {
            break;
        }
    }
    let _closed = outbox.sender.try_send(Event::Closed);
}
