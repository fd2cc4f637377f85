//! Connection admission: a cap on open connections in all and per client
//! address, so one client (or a flood) cannot take every socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps and the current counts.
pub struct ConnectionLimits {
    total: Arc<Semaphore>,
    per_ip_max: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// An admitted connection; dropping it frees its place.
pub struct ConnectionPermit {
    _total: OwnedSemaphorePermit,
    ip: IpAddr,
    limits: Arc<ConnectionLimits>,
}

impl ConnectionLimits {
    /// At most `max_total` connections, `per_ip_max` from one address
    /// (0 = no per-address cap).
    pub fn new(max_total: usize, per_ip_max: usize) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(max_total.max(1))),
            per_ip_max,
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Admit a connection from `ip`, or `None` if a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionPermit> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        if self.per_ip_max > 0 {
            let mut per_ip = self.lock();
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= self.per_ip_max {
                return None;
            }
            *count += 1;
        }
        Some(ConnectionPermit {
            _total: total,
            ip,
            limits: self.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Counter updates cannot leave the map inconsistent.
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        if self.limits.per_ip_max == 0 {
            return;
        }
        let mut per_ip = self.limits.lock();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_apply_per_address_and_in_all() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limits.admit(a).expect("first");
        let _second = limits.admit(a).expect("second");
        assert!(limits.admit(a).is_none(), "per-address cap");
        let _third = limits.admit(b).expect("another address");
        assert!(limits.admit(b).is_none(), "total cap");
        drop(first);
        assert!(
            limits.admit(a).is_some(),
            "a closed connection frees its place"
        );
    }
}
