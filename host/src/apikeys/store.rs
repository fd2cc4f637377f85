//! Issued keys, kept in a redb database file owned by the gateway, with
//! the live ones indexed in memory so a check touches no disk. A revoke
//! updates the index before the admin call returns: the key is refused
//! from the next request on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{format, unix_now};
use crate::state::keys::SharedKeys;
use crate::state::{SharedState, StateError};

/// key id → JSON [`KeyRecord`].
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");

/// What is stored about one key: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    /// Its id.
    pub id: String,
    /// Lower-case hex SHA-256 of the whole key.
    pub sha256: String,
    /// Who it belongs to.
    pub consumer: String,
    /// The consumer's usage plan.
    pub plan: Option<String>,
    /// Unix seconds of creation.
    pub created: u64,
    /// Unix seconds of revocation.
    pub revoked: Option<u64>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("key store: {0}")]
    Database(String),
    /// The shared store (Redis) could not be reached.
    #[error(transparent)]
    Shared(#[from] StateError),
    /// No key has this id.
    #[error("no key {0:?}")]
    NotFound(String),
    /// The CSPRNG failed.
    #[error(transparent)]
    Random(#[from] format::RandomFailed),
}

fn db_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

/// Where the records are kept.
enum Backend {
    /// A redb file this process owns.
    File(Database),
    /// Redis, shared with the other instances.
    Shared(Arc<SharedKeys>),
}

type LiveIndex = HashMap<String, ([u8; 32], KeyRecord)>;

/// The key store.
pub struct KeyStore {
    backend: Backend,
    /// Live (not revoked) keys by id: id → (digest, record).
    live: RwLock<LiveIndex>,
    /// Ids known revoked (shared backend): a reload read before a revoke
    /// finished must not bring the key back. Revocation is for ever, so
    /// this only grows, by one short id per revoke.
    revoked: RwLock<std::collections::HashSet<String>>,
}

impl KeyStore {
    /// Open (or create) the database at `path` and index its live keys.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        let store = Self {
            backend: Backend::File(db),
            live: RwLock::new(HashMap::new()),
            revoked: RwLock::default(),
        };
        *store.write_index() = index_of(store.list()?);
        Ok(store)
    }

    /// The keys in Redis, shared with every instance on the same prefix.
    /// Returns at once: the index fills when Redis first answers, and
    /// follows every change after that.
    pub fn open_shared(state: Arc<SharedState>) -> Result<Arc<Self>, StoreError> {
        let shared = Arc::new(SharedKeys::new(state));
        let store = Arc::new(Self {
            backend: Backend::Shared(shared.clone()),
            live: RwLock::new(HashMap::new()),
            revoked: RwLock::default(),
        });
        let (apply_to, reload_to) = (Arc::downgrade(&store), Arc::downgrade(&store));
        shared
            .follow(
                move |record| {
                    if let Some(store) = apply_to.upgrade() {
                        store.apply(record);
                    }
                },
                move |records: Vec<KeyRecord>| {
                    if let Some(store) = reload_to.upgrade() {
                        let revoked = store.revoked.read().unwrap_or_else(|e| e.into_inner());
                        let records = records
                            .into_iter()
                            .filter(|r| !revoked.contains(&r.id))
                            .collect();
                        *store.write_index() = index_of(records);
                    }
                },
            )
            .map_err(db_error)?;
        Ok(store)
    }

    /// A changed record, as another instance published it.
    fn apply(&self, record: KeyRecord) {
        if record.revoked.is_some() {
            self.remember_revoked(&record.id);
        }
        let mut index = self.write_index();
        match (record.revoked, digest_of(&record)) {
            (None, Some(digest)) => {
                index.insert(record.id.clone(), (digest, record));
            }
            _ => {
                index.remove(&record.id);
            }
        }
    }

    /// Issue a key for `consumer` on `plan`: the whole key (shown once) and
    /// its record. Durable before it returns.
    pub fn create(
        &self,
        consumer: &str,
        plan: Option<&str>,
    ) -> Result<(String, KeyRecord), StoreError> {
        let mut issued = format::issue()?;
        // 48-bit ids: a collision is unlikely, but must not overwrite a key.
        while self.get(&issued.id)?.is_some() {
            issued = format::issue()?;
        }
        let digest = format::digest(&issued.key);
        let record = KeyRecord {
            id: issued.id,
            sha256: hex::encode(digest),
            consumer: consumer.to_string(),
            plan: plan.map(str::to_string),
            created: unix_now(),
            revoked: None,
        };
        match &self.backend {
            Backend::File(_) => self.put(&record)?,
            Backend::Shared(shared) => {
                if !shared.insert_new(&record)? {
                    // Taken since the check above, by another instance.
                    return self.create(consumer, plan);
                }
            }
        }
        self.write_index()
            .insert(record.id.clone(), (digest, record.clone()));
        Ok((issued.key, record))
    }

    /// Revoke key `id`. Durable, and refused by checks, before it returns.
    pub fn revoke(&self, id: &str) -> Result<KeyRecord, StoreError> {
        let mut record = self
            .get(id)?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        // Durable first, so a failed write leaves the key visibly active
        // rather than revoked until the next restart; then out of the
        // index, before the call returns. Shared, a repeated revoke is
        // announced again, in case the first one's caller saw an error.
        if record.revoked.is_none() || matches!(self.backend, Backend::Shared(_)) {
            record.revoked.get_or_insert_with(unix_now);
            self.put(&record)?;
        }
        self.remember_revoked(id);
        self.write_index().remove(id);
        Ok(record)
    }

    fn remember_revoked(&self, id: &str) {
        if matches!(self.backend, Backend::Shared(_)) {
            self.revoked
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_string());
        }
    }

    /// Every key ever issued, revoked ones included, by id.
    pub fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let db = match &self.backend {
            Backend::File(db) => db,
            Backend::Shared(shared) => {
                let mut records = shared.list()?;
                records.sort_by(|a, b| a.id.cmp(&b.id));
                return Ok(records);
            }
        };
        let read = db.begin_read().map_err(db_error)?;
        let table = match read.open_table(KEYS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_error(e)),
        };
        let mut records = Vec::new();
        for entry in table.iter().map_err(db_error)? {
            let (_, value) = entry.map_err(db_error)?;
            records.push(serde_json::from_slice(value.value()).map_err(db_error)?);
        }
        Ok(records)
    }

    /// The live record of a presented key, compared in constant time.
    pub fn verify(&self, key: &str) -> Option<KeyRecord> {
        if let Backend::Shared(shared) = &self.backend
            && shared.refuse_all()
        {
            return None;
        }
        let id = format::id_of(key)?;
        let index = self.live.read().unwrap_or_else(|e| e.into_inner());
        let (digest, record) = index.get(id)?;
        let presented = format::digest(key);
        bool::from(presented.ct_eq(digest)).then(|| record.clone())
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let db = match &self.backend {
            Backend::File(db) => db,
            Backend::Shared(shared) => return Ok(shared.get(id)?),
        };
        let read = db.begin_read().map_err(db_error)?;
        let table = match read.open_table(KEYS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_error(e)),
        };
        let value = table.get(id).map_err(db_error)?;
        value
            .map(|v| serde_json::from_slice(v.value()).map_err(db_error))
            .transpose()
    }

    fn put(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let db = match &self.backend {
            Backend::File(db) => db,
            Backend::Shared(shared) => return Ok(shared.put(record)?),
        };
        let bytes = serde_json::to_vec(record).map_err(db_error)?;
        let write = db.begin_write().map_err(db_error)?;
        {
            let mut table = write.open_table(KEYS).map_err(db_error)?;
            table
                .insert(record.id.as_str(), bytes.as_slice())
                .map_err(db_error)?;
        }
        write.commit().map_err(db_error)
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, LiveIndex> {
        // Each mutation is one insert, remove or swap: a poisoned index is
        // consistent.
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The live keys among `records`; a record with a malformed digest is
/// left out (it could never match).
fn index_of(records: Vec<KeyRecord>) -> LiveIndex {
    records
        .into_iter()
        .filter(|record| record.revoked.is_none())
        .filter_map(|record| Some((record.id.clone(), (digest_of(&record)?, record))))
        .collect()
}

fn digest_of(record: &KeyRecord) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&record.sha256, &mut digest).ok()?;
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_reopening_and_revocation_is_immediate_and_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.redb");
        let (kept, revoked) = {
            let store = KeyStore::open(&path).expect("open");
            let (kept, _) = store.create("acme", Some("gold")).expect("create");
            let (revoked, record) = store.create("acme", None).expect("create");
            assert!(store.verify(&revoked).is_some());
            store.revoke(&record.id).expect("revoke");
            assert!(store.verify(&revoked).is_none(), "refused at once");
            (kept, revoked)
        };
        let store = KeyStore::open(&path).expect("reopen");
        let record = store.verify(&kept).expect("still valid");
        assert_eq!(record.consumer, "acme");
        assert_eq!(record.plan.as_deref(), Some("gold"));
        assert!(store.verify(&revoked).is_none(), "still revoked");
        assert_eq!(store.list().expect("list").len(), 2);
        // A key with a known id and a wrong secret.
        let forged = format!("pk_{}_{}", record.id, "A".repeat(43));
        assert!(store.verify(&forged).is_none());
        assert!(matches!(
            store.revoke("000000000000"),
            Err(StoreError::NotFound(_))
        ));
    }
}
