//! Data residency routing with the real country database: each client goes
//! to its home region's pool; when that pool is down, the request fails
//! over to another pool, or gets 503 under `no_cross_border_failover`.

use crate::support::geo::{address_in, database};
use crate::support::origin::Origin;
use crate::support::{Gateway, send};

/// A `host:port` nothing listens on: connections are refused at once.
fn dead_target() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// A gateway with one route: EU clients to `eu`, the rest to `rest`.
fn start_gateway(eu: &str, rest: &str, no_cross_border_failover: bool) -> Gateway {
    let toml = format!(
        r#"
[geo]
database = "{database}"

[[routes]]
id = "accounts"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{rest}"], eject_after_failures = 1, eject_ms = 60000 }}
no_cross_border_failover = {no_cross_border_failover}

[[routes.regions]]
name = "eu"
countries = ["EU", "CH"]
upstream = {{ targets = ["{eu}"], eject_after_failures = 1, eject_ms = 60000 }}
"#,
        database = database().display()
    );
    Gateway::start_with_server_keys("trusted_proxies = [\"127.0.0.1/32\"]", &toml)
}

async fn from(gateway: &Gateway, method: &str, client: &str, body: &str) -> (u16, String) {
    let reply = send(
        method,
        &gateway.url("/profile"),
        &[("x-forwarded-for", client)],
        body.to_string(),
    )
    .await;
    (reply.status.as_u16(), reply.text())
}

#[tokio::test]
async fn clients_are_served_by_their_home_region() {
    let eu = Origin::start().await;
    let rest = Origin::start().await;
    let gateway = start_gateway(&eu.target(), &rest.target(), true);

    let germany = address_in("DE", "0.0.0.0/0").to_string();
    let germany_v6 = address_in("DE", "2000::/3").to_string();
    let switzerland = address_in("CH", "0.0.0.0/0").to_string();
    for client in [
        germany.clone(),
        germany_v6,
        format!("::ffff:{germany}"),
        switzerland,
    ] {
        let before = eu.hits();
        assert_eq!(from(&gateway, "GET", &client, "").await.0, 200, "{client}");
        assert_eq!(eu.hits(), before + 1, "{client} is served in the EU");
    }
    assert_eq!(rest.hits(), 0);

    let united_states = address_in("US", "0.0.0.0/0").to_string();
    // Documentation space and a private address: no known country.
    for client in [united_states.as_str(), "192.0.2.1", "10.1.2.3"] {
        let before = rest.hits();
        assert_eq!(from(&gateway, "GET", client, "").await.0, 200, "{client}");
        assert_eq!(
            rest.hits(),
            before + 1,
            "{client} is served by the default pool"
        );
    }
    assert_eq!(eu.hits(), 4);
}

#[tokio::test]
async fn without_cross_border_failover_a_down_home_pool_answers_503() {
    let rest = Origin::start().await;
    let gateway = start_gateway(&dead_target(), &rest.target(), true);
    let germany = address_in("DE", "0.0.0.0/0").to_string();

    // Unreachable on the first request, then ejected: 503 both times, and
    // never a request to the other region.
    for attempt in 0..2 {
        let (status, body) = from(&gateway, "GET", &germany, "").await;
        assert_eq!(status, 503, "attempt {attempt}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["error"], "the service is unavailable in your region");
    }
    assert_eq!(
        from(&gateway, "POST", &germany, "payload").await.0,
        503,
        "a request with a body stays home too"
    );
    assert_eq!(rest.hits(), 0, "nothing crossed the border");

    let united_states = address_in("US", "0.0.0.0/0").to_string();
    assert_eq!(from(&gateway, "GET", &united_states, "").await.0, 200);
    assert_eq!(rest.hits(), 1, "other regions are unaffected");
}

#[tokio::test]
async fn with_failover_a_down_home_pool_sends_requests_elsewhere() {
    let rest = Origin::start().await;
    let gateway = start_gateway(&dead_target(), &rest.target(), false);
    let germany = address_in("DE", "0.0.0.0/0").to_string();

    // A GET can be sent again: it fails over at once.
    assert_eq!(from(&gateway, "GET", &germany, "").await.0, 200);
    assert_eq!(rest.hits(), 1);

    // The EU pool is now ejected, so a POST with a body goes straight to
    // the default pool: nothing of it was sent to the dead one.
    let reply = send(
        "POST",
        &gateway.url("/echo-body"),
        &[("x-forwarded-for", germany.as_str())],
        "payload",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "payload");
    assert_eq!(rest.hits(), 2);
}
