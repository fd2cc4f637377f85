//! Issued keys, kept in a redb database file owned by the gateway, with
//! the live ones indexed in memory so a check touches no disk. A revoke
//! updates the index before the admin call returns: the key is refused
//! from the next request on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{format, unix_now};

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

/// The key store.
pub struct KeyStore {
    db: Database,
    /// Live (not revoked) keys by id: id → (digest, record).
    live: RwLock<HashMap<String, ([u8; 32], KeyRecord)>>,
}

impl KeyStore {
    /// Open (or create) the database at `path` and index its live keys.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        let store = Self {
            db,
            live: RwLock::new(HashMap::new()),
        };
        let mut live = HashMap::new();
        for record in store.list()? {
            if record.revoked.is_some() {
                continue;
            }
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&record.sha256, &mut digest).map_err(db_error)?;
            live.insert(record.id.clone(), (digest, record));
        }
        *store.write_index() = live;
        Ok(store)
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
        self.put(&record)?;
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
        // index, before the call returns.
        if record.revoked.is_none() {
            record.revoked = Some(unix_now());
            self.put(&record)?;
        }
        self.write_index().remove(id);
        Ok(record)
    }

    /// Every key ever issued, revoked ones included, by id.
    pub fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
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
        let id = format::id_of(key)?;
        let index = self.live.read().unwrap_or_else(|e| e.into_inner());
        let (digest, record) = index.get(id)?;
        let presented = format::digest(key);
        bool::from(presented.ct_eq(digest)).then(|| record.clone())
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
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
        let bytes = serde_json::to_vec(record).map_err(db_error)?;
        let write = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = write.open_table(KEYS).map_err(db_error)?;
            table
                .insert(record.id.as_str(), bytes.as_slice())
                .map_err(db_error)?;
        }
        write.commit().map_err(db_error)
    }

    fn write_index(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ([u8; 32], KeyRecord)>> {
        // Each mutation is one insert or remove: a poisoned index is consistent.
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }
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
