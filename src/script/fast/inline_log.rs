//! A list that holds its first few entries in place and only allocates past them: a method's
//! journal (`run::Journal`) notes a few writes on most calls, and a `Vec` would allocate and
//! free on every one.

/// A push-only list: the first `N` entries in place, the rest in a `Vec`.
pub(super) struct InlineLog<T, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T, const N: usize> InlineLog<T, N> {
    /// An empty list (allocates nothing).
    pub(super) fn new() -> Self {
        Self { inline: [const { None }; N], len: 0, spill: Vec::new() }
    }

    /// Adds `item` at the end.
    #[inline]
    pub(super) fn push(&mut self, item: T) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = Some(item),
            None => self.spill.push(item),
        }
        self.len += 1;
    }

    /// Whether nothing was pushed.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries, first pushed first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.inline.iter().flatten().chain(self.spill.iter())
    }

    /// The entries, last pushed first.
    pub(super) fn into_rev(self) -> impl Iterator<Item = T> {
        let Self { inline, spill, .. } = self;
        spill.into_iter().rev().chain(inline.into_iter().rev().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::InlineLog;

    #[test]
    fn keeps_the_order_in_place_and_past_it() {
        for n in 0..7 {
            let mut log: InlineLog<usize, 3> = InlineLog::new();
            assert!(log.is_empty());
            for i in 0..n {
                log.push(i);
            }
            assert_eq!(log.is_empty(), n == 0);
            assert_eq!(log.iter().copied().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
            assert_eq!(log.into_rev().collect::<Vec<_>>(), (0..n).rev().collect::<Vec<_>>());
        }
    }
}
