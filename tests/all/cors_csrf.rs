//! The `cors` and `csrf` plugins through the gateway: preflights answered
//! at the edge, CORS headers and `Vary: Origin` on responses, and
//! cross-site writes refused on a cookie-authenticated route.

use crate::support::{Gateway, Origin, send};

fn config(upstream: &str) -> String {
    format!(
        r#"
[plugins.cors]
builtin = "cors"

[plugins.csrf]
builtin = "csrf"

[[routes]]
id = "api"
path = {{ prefix = "/api/" }}
upstream = {{ targets = ["{upstream}"] }}
[[routes.plugins]]
name = "cors"
[routes.plugins.settings]
allow_origins = ["https://app.example.com"]
allow_origin_patterns = ['^https://[a-z0-9-]+\.preview\.example\.com$']
allow_methods = ["GET", "PUT"]
allow_headers = ["content-type", "x-trace"]
expose_headers = ["x-total"]
allow_credentials = true
max_age = 600

[[routes]]
id = "account"
path = {{ prefix = "/account/" }}
upstream = {{ targets = ["{upstream}"] }}
[[routes.plugins]]
name = "csrf"
[routes.plugins.settings]
trusted_origins = ["https://partner.example"]
bypass_paths = ["/account/webhooks/"]
"#
    )
}

#[tokio::test]
async fn preflights_are_answered_at_the_gateway() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin.target()));
    let url = gateway.url("/api/items");

    let allowed = [
        ("origin", "https://pr-7.preview.example.com"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "Content-Type, X-Trace"),
    ];
    let reply = send("OPTIONS", &url, &allowed, "").await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://pr-7.preview.example.com")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, PUT")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("content-type, x-trace")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));

    for refused in [
        [
            ("origin", "https://app.example.com.evil.test"),
            ("access-control-request-method", "PUT"),
            ("x", ""),
        ],
        [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "DELETE"),
            ("x", ""),
        ],
        [
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-admin"),
        ],
    ] {
        let reply = send("OPTIONS", &url, &refused, "").await;
        assert_eq!(reply.status, 403, "{refused:?}");
        assert_eq!(reply.header("access-control-allow-origin"), None);
        assert!(reply.header("vary").is_some_and(|v| v.contains("Origin")));
    }
    assert_eq!(origin.hits(), 0, "no preflight reached the upstream");
}

#[tokio::test]
async fn responses_carry_cors_headers_for_allowed_origins_and_always_vary() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin.target()));
    let url = gateway.url("/api/items");

    let reply = send("GET", &url, &[("origin", "https://app.example.com")], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("x-total")
    );
    assert!(reply.headers.get_all("vary").iter().any(|v| v == "Origin"));

    for headers in [&[("origin", "https://evil.test")][..], &[][..]] {
        let reply = send("GET", &url, headers, "").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("access-control-allow-origin"), None);
        assert!(
            reply.headers.get_all("vary").iter().any(|v| v == "Origin"),
            "Vary: Origin without a match too"
        );
    }
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_same_origin_ones_pass() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin.target()));
    let url = gateway.url("/account/email");
    let own_origin = gateway.url("");
    let own_origin = own_origin.trim_end_matches('/');

    let cases: [(&[(&str, &str)], u16); 7] = [
        (&[("sec-fetch-site", "same-origin")], 200),
        (&[("sec-fetch-site", "cross-site")], 403),
        (&[("sec-fetch-site", "same-site")], 403),
        (&[("origin", own_origin)], 200),
        (&[("origin", "https://attacker.example")], 403),
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://partner.example"),
            ],
            200,
        ),
        (&[], 200),
    ];
    for (headers, status) in cases {
        let reply = send("POST", &url, headers, "email=a@b.example").await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{headers:?}: {}",
            reply.text()
        );
    }
    let refused = send("POST", &url, &[("sec-fetch-site", "cross-site")], "").await;
    assert_eq!(refused.header("content-type"), Some("application/json"));
    let hook = send(
        "POST",
        &gateway.url("/account/webhooks/stripe"),
        &[("sec-fetch-site", "cross-site")],
        "{}",
    )
    .await;
    assert_eq!(hook.status, 200, "bypass path");
    let read = send("GET", &url, &[("sec-fetch-site", "cross-site")], "").await;
    assert_eq!(read.status, 200, "safe methods pass");
}

#[tokio::test]
async fn the_upstreams_own_cors_headers_do_not_override_the_policy() {
    let upstream = crate::support::service::Service::start(|_, _| async {
        http::Response::builder()
            .header("access-control-allow-origin", "*")
            .header("access-control-allow-credentials", "true")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .expect("response")
    })
    .await;
    let gateway = Gateway::start(&config(upstream.origin.trim_start_matches("http://")));
    let url = gateway.url("/api/items");
    let other = send("GET", &url, &[("origin", "https://evil.test")], "").await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(other.header("access-control-allow-credentials"), None);
    let allowed = send("GET", &url, &[("origin", "https://app.example.com")], "").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed
            .headers
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1
    );
}
