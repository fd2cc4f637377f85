use std::time::{Duration, Instant};

use http::HeaderMap;

use super::*;
use crate::plugin::bindings::{Decision, Edit};
use crate::plugin::view::ResponseView;

/// A GET of `/orders`, with `authorization: token` when given.
pub(super) fn request(token: Option<&str>) -> RequestView {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        headers.append("authorization", token.parse().expect("value"));
    }
    RequestView {
        method: http::Method::GET,
        scheme: "http",
        authority: "api.test".into(),
        path: "/orders".into(),
        query: None,
        headers,
        version: http::Version::HTTP_11,
        client_ip: [127, 0, 0, 1].into(),
        peer_ip: [127, 0, 0, 1].into(),
        tls: None,
        route_id: "api".into(),
        request_id: "id".into(),
    }
}

fn allow(principal: &str) -> Decision {
    Decision::Continue(vec![Edit::SetPrincipal(principal.into())])
}

/// A call that read the `authorization` header and asked for `ttl`.
fn recording(ttl: Duration) -> Recording {
    let mut recording = Recording::default();
    recording.read(Read::Header("authorization".into()));
    recording.reusable_for(ttl);
    recording
}

/// The principal a kept decision sets, if one is kept.
fn kept(
    cache: &DecisionCache<Decision>,
    request: &RequestView,
    context: &RequestContext,
) -> Option<String> {
    match cache.recall(request, None, context)? {
        Decision::Continue(edits) => match edits.as_slice() {
            [Edit::SetPrincipal(principal)] => Some(principal.clone()),
            other => panic!("not a kept decision: {other:?}"),
        },
        Decision::Deny(denial) => panic!("not a kept decision: {denial:?}"),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_decision_is_given_again_only_for_the_same_values() {
    let cache = DecisionCache::new(100, None);
    let context = RequestContext::default();
    cache.remember(
        recording(MINUTE),
        Instant::now(),
        &request(Some("Bearer a")),
        None,
        &context,
        || Some(allow("alice")),
    );
    assert_eq!(
        kept(&cache, &request(Some("Bearer a")), &context),
        Some("alice".into())
    );
    assert_eq!(kept(&cache, &request(Some("Bearer b")), &context), None);
    assert_eq!(kept(&cache, &request(None), &context), None);
    // What the plugin did not read does not matter.
    let mut elsewhere = request(Some("Bearer a"));
    elsewhere.path = "/other".into();
    assert_eq!(kept(&cache, &elsewhere, &context), Some("alice".into()));
}

#[test]
fn each_sequence_of_reads_is_looked_up_on_its_own() {
    let cache = DecisionCache::new(100, None);
    let mut context = RequestContext::default();
    cache.remember(
        recording(MINUTE),
        Instant::now(),
        &request(None),
        None,
        &context,
        || Some(allow("nobody")),
    );
    let mut by_principal = Recording::default();
    by_principal.read(Read::Principal);
    by_principal.read(Read::Path);
    by_principal.reusable_for(MINUTE);
    context.principal = Some("bob".into());
    cache.remember(
        by_principal,
        Instant::now(),
        &request(Some("x")),
        None,
        &context,
        || Some(allow("bob")),
    );

    assert_eq!(
        kept(&cache, &request(None), &context),
        Some("nobody".into())
    );
    assert_eq!(
        kept(&cache, &request(Some("y")), &context),
        Some("bob".into())
    );
    context.principal = Some("carol".into());
    assert_eq!(kept(&cache, &request(Some("y")), &context), None);
}

#[test]
fn a_tainted_or_unasked_call_is_not_kept() {
    let cache = DecisionCache::new(100, None);
    let context = RequestContext::default();
    let mut tainted = recording(MINUTE);
    tainted.taint();
    cache.remember(
        tainted,
        Instant::now(),
        &request(Some("a")),
        None,
        &context,
        || Some(allow("a")),
    );
    let mut unasked = Recording::default();
    unasked.read(Read::Method);
    cache.remember(
        unasked,
        Instant::now(),
        &request(Some("a")),
        None,
        &context,
        || Some(allow("a")),
    );
    cache.remember(
        recording(Duration::ZERO),
        Instant::now(),
        &request(Some("a")),
        None,
        &context,
        || Some(allow("a")),
    );
    assert!(cache.is_empty());
    assert_eq!(kept(&cache, &request(Some("a")), &context), None);
}

#[test]
fn a_decision_expires_after_the_shortest_time_asked() {
    let cache = DecisionCache::new(100, None);
    let context = RequestContext::default();
    let mut twice = recording(MINUTE);
    twice.reusable_for(Duration::from_millis(20));
    cache.remember(
        twice,
        Instant::now(),
        &request(Some("a")),
        None,
        &context,
        || Some(allow("a")),
    );
    assert_eq!(
        kept(&cache, &request(Some("a")), &context),
        Some("a".into())
    );
    let bound = Instant::now() + Duration::from_secs(10);
    while kept(&cache, &request(Some("a")), &context).is_some() {
        assert!(Instant::now() < bound, "never expired");
        std::thread::yield_now();
    }
    assert!(cache.is_empty(), "an expired entry is dropped when met");
}

#[test]
fn the_cache_stays_within_its_capacity() {
    let cache = DecisionCache::new(3, None);
    let context = RequestContext::default();
    for i in 0..10 {
        let token = format!("t{i}");
        cache.remember(
            recording(MINUTE),
            Instant::now(),
            &request(Some(&token)),
            None,
            &context,
            || Some(allow(&token)),
        );
        assert!(cache.len() <= 3);
    }
    assert_eq!(
        kept(&cache, &request(Some("t9")), &context),
        Some("t9".into())
    );
}

#[test]
fn lookups_in_two_country_databases_leave_a_call_unkept() {
    let mut recording = recording(MINUTE);
    recording.looked_up_country(3);
    recording.looked_up_country(3);
    assert!(!recording.tainted);
    recording.looked_up_country(4);
    assert!(recording.tainted);
}

#[test]
fn a_country_lookup_with_no_database_to_tie_it_to_is_not_kept() {
    let cache = DecisionCache::new(100, None);
    let context = RequestContext::default();
    let mut looked_up = recording(MINUTE);
    looked_up.looked_up_country(0);
    cache.remember(
        looked_up,
        Instant::now(),
        &request(Some("a")),
        None,
        &context,
        || Some(allow("a")),
    );
    assert!(cache.is_empty());
}

fn response(status: u16, content_type: &str) -> ResponseView {
    let mut headers = HeaderMap::new();
    headers.append("content-type", content_type.parse().expect("value"));
    ResponseView { status, headers }
}

#[test]
fn a_response_decision_is_keyed_by_what_it_read_of_the_response() {
    let cache = DecisionCache::new(100, None);
    let context = RequestContext::default();
    let mut read_response = Recording::default();
    read_response.read(Read::Status);
    read_response.read(Read::ResponseHeader("content-type".into()));
    read_response.reusable_for(MINUTE);
    let json = response(200, "application/json");
    cache.remember(
        read_response,
        Instant::now(),
        &request(None),
        Some(&json),
        &context,
        || Some(allow("json")),
    );
    let recall =
        |response: &ResponseView| match cache.recall(&request(None), Some(response), &context) {
            Some(Decision::Continue(edits)) => Some(edits),
            _ => None,
        };
    assert!(recall(&json).is_some());
    // The request's own values were not read: another request matches.
    assert!(
        cache
            .recall(&request(Some("Bearer a")), Some(&json), &context)
            .is_some()
    );
    assert!(recall(&response(404, "application/json")).is_none());
    assert!(recall(&response(200, "text/html")).is_none());
}
