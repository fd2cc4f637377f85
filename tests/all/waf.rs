//! The `waf` plugin through the gateway: blocking and detection modes, the
//! detection log, exclusions, and settings errors.

use crate::support::{Gateway, Origin, get, waf};

const ATTACK: &str = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--";

#[tokio::test]
async fn blocks_an_injection_and_logs_rule_ids_without_the_value() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&waf::config(&origin.target(), "paranoia_level = 1", ""));

    let benign = get(&gateway.url("/search?q=winter+boots")).await;
    assert_eq!(benign.status, 200);

    let attack = get(&gateway.url(ATTACK)).await;
    assert_eq!(attack.status, 403);
    assert_eq!(attack.header("content-type"), Some("application/json"));
    let body = attack.text();
    assert!(
        body.contains("blocked by the web application firewall"),
        "{body}"
    );
    assert!(
        !body.contains("942"),
        "rule ids stay out of the response: {body}"
    );
    assert_eq!(origin.hits(), 1, "the attack never reached the upstream");

    let id = attack
        .header("x-request-id")
        .expect("request id")
        .to_string();
    assert!(gateway.wait_for_log(|line| line.contains(&id) && line.contains("blocked")));
    let line = gateway
        .logs()
        .into_iter()
        .find(|line| line.contains(&id) && line.contains("waf request:"))
        .expect("a detection line");
    assert!(line.contains("942100@ARGS:q"), "{line}");
    assert!(line.contains("949110"), "{line}");
    assert!(
        !line.to_lowercase().contains("password"),
        "no matched value in the log: {line}"
    );
}

#[tokio::test]
async fn detection_mode_lets_the_attack_through_and_logs_it() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&waf::config(
        &origin.target(),
        "paranoia_level = 1\nmode = \"detect\"",
        "",
    ));
    let attack = get(&gateway.url(ATTACK)).await;
    assert_eq!(attack.status, 200);
    let id = attack
        .header("x-request-id")
        .expect("request id")
        .to_string();
    assert!(gateway.wait_for_log(|line| line.contains(&id) && line.contains("detected")));
}

#[tokio::test]
async fn an_exclusion_lets_one_parameter_carry_free_text() {
    let origin = Origin::start().await;
    let settings = r#"paranoia_level = 1
exclusions = [{ tags = ["attack-sqli"], targets = ["ARGS:q"] }]"#;
    let gateway = Gateway::start(&waf::config(&origin.target(), settings, ""));
    assert_eq!(get(&gateway.url(ATTACK)).await.status, 200);
    let other = ATTACK.replace("?q=", "?other=");
    assert_eq!(get(&gateway.url(&other)).await.status, 403);
}

#[test]
fn a_rules_directory_the_plugin_cannot_read_fails_the_load() {
    let settings = "paranoia_level = 1";
    let config = waf::config("127.0.0.1:9", settings, "")
        .replace("rules_dir = \"/crs\"", "rules_dir = \"/nowhere\"");
    let error = Gateway::try_start("", &config)
        .err()
        .expect("the gateway refuses the config");
    assert!(error.contains("/nowhere"), "{error}");
    assert!(error.contains("crs-setup.conf"), "{error}");
}

#[test]
fn bad_settings_fail_the_load_with_the_reason() {
    let config = waf::config("127.0.0.1:9", "paranoia_level = 7", "");
    let error = Gateway::try_start("", &config)
        .err()
        .expect("the gateway refuses the config");
    assert!(error.contains("paranoia levels run from 1 to 4"), "{error}");
}

#[tokio::test]
async fn a_body_its_processor_cannot_parse_is_refused() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&waf::config(&origin.target(), "paranoia_level = 1", ""));
    let json = [("content-type", "application/json")];
    let broken = crate::support::send(
        "POST",
        &gateway.url("/orders"),
        &json,
        "{\"q\": \"1' or '1'='1\"",
    )
    .await;
    assert_eq!(broken.status, 400, "{}", broken.text());
    let fine = crate::support::send(
        "POST",
        &gateway.url("/orders"),
        &json,
        "{\"q\": \"winter boots\"}",
    )
    .await;
    assert_eq!(fine.status, 200, "{}", fine.text());
}
