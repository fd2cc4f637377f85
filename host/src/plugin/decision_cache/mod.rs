//! Decisions a plugin said may be given again (`decision-cache`), kept in
//! the host so a repeated request costs a lookup instead of a call.
//!
//! While a call runs, the host notes every getter of `request`, `response`
//! and `context` the guest calls ([`Recording`]). If the guest then says its
//! decision is reusable, and did nothing else that must happen on every
//! request, the decision is kept under the values those getters returned.
//! A later request is looked up by encoding the same getters' values for
//! it: if a kept decision was made on equal values, a plugin whose decision
//! follows only from what it read would make the same one, since it would
//! have read the same things in the same order. Each distinct sequence of
//! getters (a "shape": a plugin that finds no token reads less than one
//! that does) is tried in turn; there are only a few per plugin.
//!
//! A plugin's `request-headers` and `response-headers` decisions are kept
//! in two caches: a shape of no reads means a different thing in each.
//!
//! Entries are keyed by the shape and the values themselves (hashed with a
//! per-cache random key, so crafted requests cannot be aimed at one slot).

mod reads;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

pub use reads::Read;

use super::view::{RequestView, ResponseView};
use crate::context::RequestContext;
use crate::geo::GeoDb;

/// Longest a decision is kept, whatever the plugin asks: a changed key
/// set or revoked grant outside the plugin's view is at most this stale.
pub const MAX_TTL: Duration = Duration::from_secs(300);

/// Distinct getter sequences kept per plugin; a plugin that reads in more
/// ways than this is called for the others.
const MAX_SHAPES: usize = 8;

/// Largest encoding of a request's values kept (a plugin that reads every
/// header of large requests is called instead).
const MAX_VALUES_BYTES: usize = 16 * 1024;

/// What the host notes during one call that may be kept.
#[derive(Debug, Default)]
pub struct Recording {
    reads: Vec<Read>,
    /// Set by a read or a capability whose result or effect is not a
    /// function of the noted reads.
    tainted: bool,
    /// What the plugin asked for, shortest first.
    reusable_for: Option<Duration>,
    /// The country database's generation when the call first looked a
    /// country up.
    geo_generation: Option<u64>,
}

impl Recording {
    /// Note a getter call.
    pub fn read(&mut self, read: Read) {
        self.reads.push(read);
    }

    /// A `geo.country` lookup in the database of `generation`, read before
    /// the lookup: a reload during the call leaves the decision unkept.
    pub fn looked_up_country(&mut self, generation: u64) {
        self.reads.push(Read::GeoDatabase);
        match self.geo_generation {
            Some(seen) if seen != generation => self.tainted = true,
            _ => self.geo_generation = Some(generation),
        }
    }

    /// The call did something that must happen on every request.
    pub fn taint(&mut self) {
        self.tainted = true;
    }

    /// The plugin said its decision may be given again for `ttl`.
    pub fn reusable_for(&mut self, ttl: Duration) {
        let shortest = self.reusable_for.map_or(ttl, |before| before.min(ttl));
        self.reusable_for = Some(shortest);
    }
}

/// One plugin's kept decisions, each a `T`.
pub struct DecisionCache<T> {
    capacity: usize,
    /// The country database `geo.country` looks up, if any.
    geo: Option<Arc<GeoDb>>,
    shapes: RwLock<Vec<Box<[Read]>>>,
    /// By the shape's index and the values it read (see [`encode`]).
    entries: Mutex<HashMap<Box<[u8]>, Entry<T>>>,
}

struct Entry<T> {
    expires: Instant,
    decision: T,
}

thread_local! {
    /// The encoding buffer of lookups on this thread.
    static VALUES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<T: Clone> DecisionCache<T> {
    /// A cache of at most `capacity` decisions, of a plugin whose
    /// `geo.country` looks up `geo`.
    pub fn new(capacity: usize, geo: Option<Arc<GeoDb>>) -> Self {
        Self {
            capacity,
            geo,
            shapes: RwLock::new(Vec::new()),
            entries: Mutex::new(HashMap::default()),
        }
    }

    /// A kept decision for this request (and, in a `response-headers`
    /// cache, this response), if one was made on the same values.
    pub fn recall(
        &self,
        request: &RequestView,
        response: Option<&ResponseView>,
        context: &RequestContext,
    ) -> Option<T> {
        self.find(request, response, context, |_| true)
    }

    /// A kept decision made without reading the response, for a request
    /// whose response is not there yet or not read into a view: shapes
    /// that read the response are not tried, though a decision kept under
    /// one of them may still serve this request.
    pub fn recall_without_response(
        &self,
        request: &RequestView,
        context: &RequestContext,
    ) -> Option<T> {
        self.find(request, None, context, |shape| {
            !shape.iter().any(Read::is_of_response)
        })
    }

    /// The first live decision kept under a shape `tried` accepts.
    fn find(
        &self,
        request: &RequestView,
        response: Option<&ResponseView>,
        context: &RequestContext,
        tried: impl Fn(&[Read]) -> bool,
    ) -> Option<T> {
        let shapes = self.shapes.read().unwrap_or_else(|e| e.into_inner());
        if shapes.is_empty() {
            return None;
        }
        let generation = self.geo.as_deref().map(GeoDb::generation);
        VALUES.with_borrow_mut(|values| {
            let now = Instant::now();
            for (index, shape) in shapes.iter().enumerate() {
                if !tried(shape) {
                    continue;
                }
                encode(index, shape, request, response, context, generation, values);
                let mut entries = self.lock_entries();
                let Some(entry) = entries.get(values.as_slice()) else {
                    continue;
                };
                if now < entry.expires {
                    return Some(entry.decision.clone());
                }
                entries.remove(values.as_slice());
            }
            None
        })
    }

    /// Keep the decision `keep` gives, made on `request`, `response` (in
    /// a `response-headers` cache) and `context` by a call that started at
    /// `called`, if `recording` allows it (`keep` is asked only then, and
    /// may still decline).
    pub fn remember(
        &self,
        recording: Recording,
        called: Instant,
        request: &RequestView,
        response: Option<&ResponseView>,
        context: &RequestContext,
        keep: impl FnOnce() -> Option<T>,
    ) {
        let Some(ttl) = recording.reusable_for else {
            return;
        };
        if recording.tainted || ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let current = self.geo.as_deref().map(GeoDb::generation);
        if recording
            .geo_generation
            .is_some_and(|seen| Some(seen) != current)
        {
            // Another database came into use during the call (or there
            // is none to tie the decision to).
            return;
        }
        // Under the database the call saw: if another comes into use from
        // here on, no later request looks this entry up.
        let generation = recording.geo_generation.or(current);
        let mut values = Vec::new();
        encode(
            0,
            &recording.reads,
            request,
            response,
            context,
            generation,
            &mut values,
        );
        if values.len() > MAX_VALUES_BYTES {
            return;
        }
        let Some(shape) = self.shape_index(recording.reads) else {
            return;
        };
        let Some(decision) = keep() else {
            return;
        };
        values[0] = shape as u8;
        let entry = Entry {
            // From the call's start: the plugin worked the time out then.
            expires: called + ttl.min(MAX_TTL),
            decision,
        };
        let now = Instant::now();
        let mut entries = self.lock_entries();
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| now < entry.expires);
            if entries.len() >= self.capacity - self.capacity / 8 {
                // Still nearly full of live decisions: start over, rather
                // than scan them all again at the next insert or track
                // recency on every hit.
                entries.clear();
            }
        }
        entries.insert(values.into_boxed_slice(), entry);
    }

    /// Decisions kept now.
    pub fn len(&self) -> usize {
        self.lock_entries().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of `reads` among the known shapes, added if new and
    /// there is room.
    fn shape_index(&self, reads: Vec<Read>) -> Option<usize> {
        let known = |shapes: &[Box<[Read]>]| shapes.iter().position(|s| **s == *reads);
        if let Some(index) = known(&self.shapes.read().unwrap_or_else(|e| e.into_inner())) {
            return Some(index);
        }
        let mut shapes = self.shapes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = known(&shapes) {
            return Some(index);
        }
        if shapes.len() >= MAX_SHAPES {
            return None;
        }
        shapes.push(reads.into_boxed_slice());
        Some(shapes.len() - 1)
    }

    fn lock_entries(&self) -> MutexGuard<'_, HashMap<Box<[u8]>, Entry<T>>> {
        // Every entry is whole whenever the lock is released.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of shape `index` for this request, into `out` (cleared
/// first): the index, then the values its getters return, with the
/// country database's generation for a country lookup.
fn encode(
    index: usize,
    shape: &[Read],
    request: &RequestView,
    response: Option<&ResponseView>,
    context: &RequestContext,
    geo_generation: Option<u64>,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.push(index as u8);
    for read in shape {
        reads::encode(read, request, response, context, geo_generation, out);
    }
}

#[cfg(test)]
mod tests;
