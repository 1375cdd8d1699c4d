//! Where timers fired: the positions (source events processed, once the event that fired them
//! was done) at which at least one timer fired, for *previous timer*. Recorded the first time
//! the replay passes a position (playing, stepping or seeking): every position up to the
//! furthest reached is known, since the replay only gets anywhere by passing through.

/// The positions where a timer fired, ascending (8 bytes each).
#[derive(Debug, Clone, Default)]
pub(super) struct TimerMarks {
    positions: Vec<u64>,
}

impl TimerMarks {
    /// A timer fired during the event that ends at `at` (recorded once, the first time by).
    pub(super) fn fired(&mut self, at: u64) {
        if self.positions.last().is_none_or(|&last| at > last) {
            self.positions.push(at);
        }
    }

    /// The last position before `position`, not before `origin`, where a timer fired.
    pub(super) fn before(&self, position: u64, origin: u64) -> Option<u64> {
        let index = self.positions.partition_point(|&p| p < position);
        index.checked_sub(1).and_then(|i| self.positions.get(i)).copied().filter(|&p| p >= origin)
    }

    /// Forgets every position (another graph, or another history).
    pub(super) fn clear(&mut self) {
        self.positions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::TimerMarks;

    #[test]
    fn the_last_position_before_is_found_once_recorded() {
        let mut marks = TimerMarks::default();
        for at in [3, 7, 7, 5, 12] {
            marks.fired(at);
        }
        assert_eq!(marks.positions, vec![3, 7, 12]);
        assert_eq!(marks.before(12, 0), Some(7));
        assert_eq!(marks.before(13, 0), Some(12));
        assert_eq!(marks.before(3, 0), None);
        assert_eq!(marks.before(8, 7), Some(7));
        assert_eq!(marks.before(8, 8), None);
    }
}
