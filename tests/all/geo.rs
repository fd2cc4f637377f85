//! The `geo` plugin through the gateway with a real country database:
//! addresses the database places are allowed and refused as configured,
//! over IPv4, IPv6 and IPv4-mapped IPv6; unknown and private addresses
//! follow their settings; a spoofed X-Forwarded-For from an untrusted peer
//! is ignored; the country reaches the upstream only from the gateway.

use crate::support::geo::{address_in, database};
use crate::support::{Gateway, send};

/// A gateway whose `[server] trusted_proxies` is `[trusted]`.
fn start_gateway(trusted: &str) -> Gateway {
    Gateway::start_with_server_keys(&format!("trusted_proxies = [{trusted}]"), &config())
}

fn config() -> String {
    format!(
        r#"
[geo]
database = "{database}"

[plugins.geo]
builtin = "geo"

[[routes]]
id = "eu"
path = {{ prefix = "/eu/" }}
upstream = {{ builtin = "echo" }}
[[routes.plugins]]
name = "geo"
settings = {{ allow = ["EU"], status = 451, message = "not offered in your region", forward_header = "x-client-country" }}

[[routes]]
id = "strict"
path = {{ prefix = "/strict/" }}
upstream = {{ builtin = "echo" }}
[[routes.plugins]]
name = "geo"
settings = {{ allow = ["EU"], private = "deny" }}

[[routes]]
id = "open"
path = {{ prefix = "/open/" }}
upstream = {{ builtin = "echo" }}
[[routes.plugins]]
name = "geo"
settings = {{ deny = ["US"], unknown = "allow" }}
"#,
        database = database().display()
    )
}

async fn from(
    gateway: &Gateway,
    path: &str,
    client: &str,
    extra: &[(&str, &str)],
) -> crate::support::client::Reply {
    let mut headers = vec![("x-forwarded-for", client)];
    headers.extend_from_slice(extra);
    send("GET", &gateway.url(path), &headers, "").await
}

#[tokio::test]
async fn countries_from_the_database_are_allowed_and_refused_as_configured() {
    let gateway = start_gateway("\"127.0.0.1/32\"");
    let germany = address_in("DE", "0.0.0.0/0").to_string();
    let united_states = address_in("US", "0.0.0.0/0").to_string();
    let germany_v6 = address_in("DE", "2000::/3").to_string();
    let mapped = format!("::ffff:{germany}");

    for client in [&germany, &germany_v6, &mapped] {
        let reply = from(&gateway, "/eu/x", client, &[]).await;
        assert_eq!(reply.status, 200, "{client}: {}", reply.text());
        assert_eq!(
            reply.json()["headers"]["x-client-country"],
            "DE",
            "{client}"
        );
    }
    let refused = from(&gateway, "/eu/x", &united_states, &[]).await;
    assert_eq!(refused.status, 451);
    assert_eq!(refused.json()["error"], "not offered in your region");

    assert_eq!(
        from(&gateway, "/open/x", &united_states, &[]).await.status,
        403
    );
    assert_eq!(from(&gateway, "/open/x", &germany, &[]).await.status, 200);
}

#[tokio::test]
async fn unknown_and_private_addresses_follow_their_settings() {
    let gateway = start_gateway("\"127.0.0.1/32\"");
    // Documentation space: in no country.
    let unknown = "192.0.2.1";
    assert_eq!(
        from(&gateway, "/eu/x", unknown, &[]).await.status,
        451,
        "unknown: deny by default"
    );
    assert_eq!(
        from(&gateway, "/open/x", unknown, &[]).await.status,
        200,
        "unknown = allow"
    );
    let private = from(&gateway, "/eu/x", "10.1.2.3", &[("x-client-country", "DE")]).await;
    assert_eq!(private.status, 200, "private: allow by default");
    assert!(
        private.json()["headers"].get("x-client-country").is_none(),
        "a client's own country header is removed"
    );
    assert_eq!(
        from(&gateway, "/strict/x", "10.1.2.3", &[]).await.status,
        403,
        "private = deny"
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let gateway = start_gateway("");
    let germany = address_in("DE", "0.0.0.0/0").to_string();
    // The peer is 127.0.0.1 (private), whatever the header claims.
    assert_eq!(from(&gateway, "/strict/x", &germany, &[]).await.status, 403);
    let trusting = start_gateway("\"127.0.0.1/32\"");
    assert_eq!(
        from(&trusting, "/strict/x", &germany, &[]).await.status,
        200
    );
}

/// A gateway on a copy of the database in `dir` (returned, to be
/// replaced), checking it for changes every 100 ms.
fn on_a_live_copy(dir: &tempfile::TempDir) -> (Gateway, std::path::PathBuf) {
    let live = dir.path().join("countries.mmdb");
    std::fs::copy(database(), &live).expect("copy");
    let toml = config()
        .replace(
            &database().display().to_string(),
            &live.display().to_string(),
        )
        .replace("[geo]\n", "[geo]\nreload_check_ms = 100\n");
    let gateway = Gateway::start_with_server_keys("trusted_proxies = [\"127.0.0.1/32\"]", &toml);
    (gateway, live)
}

/// Polls `/eu/x` from `client` until it is refused with 451 (the EU route's
/// status) or 10 s pass: the last status and how long it took.
async fn status_once_refused(gateway: &Gateway, client: &str) -> (u16, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut status = 200;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        status = from(gateway, "/eu/x", client, &[]).await.status.as_u16();
        if status == 451 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (status, started.elapsed())
}

#[tokio::test]
async fn the_database_is_reloaded_when_it_changes_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (gateway, live) = on_a_live_copy(&dir);
    let germany_v6 = address_in("DE", "2000::/3").to_string();
    assert_eq!(from(&gateway, "/eu/x", &germany_v6, &[]).await.status, 200);

    // Files are replaced by rename, as deployments do.
    let swap_in = |source: &std::path::Path| {
        let staged = dir.path().join("staged.mmdb");
        std::fs::copy(source, &staged).expect("stage");
        std::fs::rename(&staged, &live).expect("swap");
    };
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"not a database").expect("write");
    swap_in(&garbage);
    assert!(gateway.wait_for_log(|line| line.contains("geo database not reloaded")));
    assert_eq!(
        from(&gateway, "/eu/x", &germany_v6, &[]).await.status,
        200,
        "the old database is kept"
    );

    // An IPv4-only database: IPv6 clients become unknown (refused here).
    swap_in(&database().with_file_name("dbip-country-ipv4.mmdb"));
    let (status, after) = status_once_refused(&gateway, &germany_v6).await;
    assert_eq!(status, 451, "the new database is in use");
    eprintln!("reload seen after {after:?}");
}

#[tokio::test]
async fn the_database_stays_out_of_the_gateways_resident_memory() {
    let with_geo = start_gateway("");
    // The same plugin runtime, with a plugin that needs no database.
    let without_geo = Gateway::start(
        r#"
[plugins.headers]
builtin = "headers"

[[routes]]
id = "eu"
path = { prefix = "/eu/" }
upstream = { builtin = "echo" }
[[routes.plugins]]
name = "headers"
"#,
    );
    let germany = address_in("DE", "0.0.0.0/0").to_string();
    for gateway in [&with_geo, &without_geo] {
        assert_eq!(from(gateway, "/eu/x", &germany, &[]).await.status, 200);
    }
    let database_kib = std::fs::metadata(database()).expect("database").len() / 1024;
    let grown = with_geo
        .resident_kib("VmRSS")
        .saturating_sub(without_geo.resident_kib("VmRSS"));
    eprintln!("database {database_kib} KiB; the gateway with it holds {grown} KiB more");
    // The database's pages that lookups did not touch cost nothing.
    assert!(
        grown < database_kib / 2,
        "{grown} KiB more resident with a {database_kib} KiB database"
    );
}

#[tokio::test]
async fn a_database_rewritten_in_place_is_reloaded_without_harm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (gateway, live) = on_a_live_copy(&dir);
    let germany_v6 = address_in("DE", "2000::/3").to_string();
    assert_eq!(from(&gateway, "/eu/x", &germany_v6, &[]).await.status, 200);

    // Truncated and rewritten through the same inode, as `cp` over it does:
    // lookups must not read the shrunken file.
    std::fs::write(&live, b"not a database").expect("rewrite");
    assert!(gateway.wait_for_log(|line| line.contains("geo database not reloaded")));
    for _ in 0..20 {
        assert_eq!(
            from(&gateway, "/eu/x", &germany_v6, &[]).await.status,
            200,
            "the old database is kept"
        );
    }

    std::fs::copy(database().with_file_name("dbip-country-ipv4.mmdb"), &live).expect("cp");
    let (status, _) = status_once_refused(&gateway, &germany_v6).await;
    assert_eq!(status, 451, "the new database is in use");
}
