//! IP-to-country lookups for the `geo` capability, from a MaxMind DB
//! format database (`[geo] database`): MaxMind's own (`country.iso_code`)
//! or ip-location-db's (`country_code`). The database is mapped, as
//! libmaxminddb maps it, from a private copy (`mapped_copy`): a lookup
//! touches a few dozen pages of a database of several MiB, and the rest
//! stays in the page cache instead of the gateway's heap. Each lookup is
//! bounded by the `maxminddb` crate's per-decode limits (depth, values,
//! bytes), so a hostile file cannot hang a request. A background task
//! reloads it when its modification time changes; a bad new file is logged
//! and the old one kept.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use maxminddb::{PathElement, Reader};
use memmap2::Mmap;

/// Country codes and their groups, shared with the `geo` plugin so both
/// read a setting such as `EU` the same way.
#[path = "../../plugins/geo/src/countries.rs"]
pub mod countries;

/// A loaded country database.
pub struct GeoDb {
    path: PathBuf,
    reader: ArcSwap<Reader<Mmap>>,
    modified: Mutex<Option<SystemTime>>,
    /// How many times another database was put in use: what a kept
    /// decision that looked a country up depends on.
    generation: AtomicU64,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn load(path: &Path) -> Result<Reader<Mmap>, String> {
    let reader = Reader::from_source(crate::mapped_copy::map_private_copy(path)?)
        .map_err(|e| format!("{}: not a MaxMind DB file: {e}", path.display()))?;
    // The crate's full `verify` is stricter than real databases (it
    // refuses DB-IP's empty `description`); a lookup proves the tree and
    // data section are readable, and every lookup is bounded anyway.
    reader
        .lookup(IpAddr::from([1, 1, 1, 1]))
        .map_err(|e| format!("{}: the database cannot be read: {e}", path.display()))?;
    Ok(reader)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl GeoDb {
    /// Load the database at `path`.
    pub fn open(path: &Path) -> Result<Arc<Self>, String> {
        let stamp = modified(path);
        let reader = load(path)?;
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            reader: ArcSwap::from_pointee(reader),
            modified: Mutex::new(stamp),
            generation: AtomicU64::new(0),
        }))
    }

    /// Changes whenever another database is put in use.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The ISO 3166-1 alpha-2 country of `ip`, upper-case, if known.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        // `::ffff:a.b.c.d` is the IPv4 address: IPv6 databases may not map it.
        let ip = ip.to_canonical();
        let reader = self.reader.load();
        let result = reader.lookup(ip).ok()?;
        let code: Option<String> = result
            .decode_path(&[PathElement::Key("country_code")])
            .ok()
            .flatten()
            .or_else(|| {
                result
                    .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
                    .ok()
                    .flatten()
            });
        code.filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|c| c.to_ascii_uppercase())
    }

    /// Reload if the file changed since it was read. `Ok(true)` when a new
    /// database is in use; an error leaves the old one in place.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let now = modified(&self.path);
        {
            let seen = self
                .modified
                .lock()
                .map_err(|_| "geo state poisoned".to_string())?;
            if *seen == now {
                return Ok(false);
            }
        }
        let loaded = load(&self.path);
        // Remember this version either way: a bad file is reported once,
        // not on every check.
        if let Ok(mut seen) = self.modified.lock() {
            *seen = now;
        }
        self.reader.store(Arc::new(loaded?));
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }
}

/// Check `db` for a changed file every `every`, for as long as anything
/// else holds it.
pub async fn watch(db: Weak<GeoDb>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(db) = db.upgrade() else { return };
        match tokio::task::spawn_blocking(move || db.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!(target: "audit", "geo database reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(reason)) => tracing::warn!(
                reason,
                "geo database not reloaded; keeping the previous one"
            ),
            Err(_) => return,
        }
    }
}
