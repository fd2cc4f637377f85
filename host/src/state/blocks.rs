//! The threat block list shared by every instance: a block one instance
//! sets (or an operator lifts) is stored in Redis with its expiry and
//! announced; the others follow the channel and copy it into their own
//! list, which is what requests are checked against, so a check never
//! waits on Redis.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use redis::Commands;

use super::follower::Follower;
use super::{SharedState, StateError};
use crate::threats::blocklist::BlockList;

/// Blocks read back per SCAN step when reloading.
const SCAN_COUNT: usize = 1000;

/// The Redis side of the shared block list.
pub struct SharedBlocks {
    state: Arc<SharedState>,
    channel: String,
    key_prefix: String,
}

impl SharedBlocks {
    /// Blocks under `[state] prefix` + `block:`.
    pub fn new(state: Arc<SharedState>) -> Arc<Self> {
        Arc::new(Self {
            channel: state.key("blocks"),
            key_prefix: state.key("block:"),
            state,
        })
    }

    /// Store and announce a block of `key` for `ttl` (`None`: lifted), on
    /// a task of its own: the request that tripped it does not wait.
    pub fn announce(&self, key: &str, reason: &str, ttl: Option<Duration>) {
        let stored = format!("{}{key}", self.key_prefix);
        let mut pipe = redis::pipe();
        pipe.atomic();
        match ttl {
            Some(ttl) => pipe.pset_ex(&stored, reason, millis(ttl)).ignore(),
            None => pipe.del(&stored).ignore(),
        };
        pipe.publish(&self.channel, key).ignore();
        self.state.send_in_background("blocks", pipe);
    }

    /// Copy every block into `blocks` and follow the channel, forever, on
    /// a thread of its own.
    pub fn follow(self: &Arc<Self>, blocks: &'static BlockList) -> std::io::Result<()> {
        let (for_reload, for_apply) = (self.clone(), self.clone());
        Follower {
            state: self.state.clone(),
            feature: "blocks",
            channel: self.channel.clone(),
            synced: Arc::new(AtomicBool::new(false)),
            reload: move || for_reload.reload(blocks),
            apply: move |key: String| for_apply.apply(blocks, &key),
        }
        .spawn("portcullis-blocks")
    }

    /// Every block in Redis, into `blocks`.
    fn reload(&self, blocks: &BlockList) -> Result<(), StateError> {
        let mut connection = self.state.blocking_connection()?;
        let stored = connection
            .scan_options::<String>(
                redis::ScanOptions::default()
                    .with_pattern(format!("{}*", self.key_prefix))
                    .with_count(SCAN_COUNT),
            )?
            .collect::<Result<Vec<String>, _>>()?;
        for stored in stored {
            if let Some(key) = stored.strip_prefix(&self.key_prefix) {
                self.copy(&mut connection, blocks, key)?;
            }
        }
        Ok(())
    }

    /// One announced change.
    fn apply(&self, blocks: &BlockList, key: &str) -> Result<(), StateError> {
        let mut connection = self.state.blocking_connection()?;
        self.copy(&mut connection, blocks, key)
    }

    /// `key`'s block as Redis has it, into `blocks`: set while it lasts,
    /// lifted once gone.
    fn copy(
        &self,
        connection: &mut redis::Connection,
        blocks: &BlockList,
        key: &str,
    ) -> Result<(), StateError> {
        let stored = format!("{}{key}", self.key_prefix);
        let (reason, left_ms): (Option<String>, i64) =
            redis::pipe().get(&stored).pttl(&stored).query(connection)?;
        match (reason, u64::try_from(left_ms)) {
            (Some(reason), Ok(left_ms)) if left_ms > 0 => {
                blocks.block(key, "shared", reason, Duration::from_millis(left_ms));
            }
            _ => {
                blocks.lift(key);
            }
        }
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
