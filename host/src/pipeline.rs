//! The request path, top to bottom. Every request the gateway accepts goes
//! through [`handle`] and the phases below, in this order:
//!
//! 1. limits: a declared body larger than `server.max_request_body_bytes` is
//!    refused before anything else (413), unless the URL is a signed upload
//!    URL; expectations other than `100-continue` get 417;
//!    then the client address is resolved (`X-Forwarded-For` only from
//!    trusted proxies) and a client or account on the threat block list
//!    is refused (429/403);
//! 2. route match on host, path and method (404 if none); on a route with
//!    `signed_uploads`, the URL's signature is checked natively (403, 411,
//!    413) and a valid one sets the body limit to the signed size;
//! 3. the request view: the headers as the client sent them (hop-by-hop
//!    ones included, so a firewall sees `Connection` and `Transfer-Encoding`;
//!    they never go upstream), the client address resolved
//!    (`X-Forwarded-For` only from trusted proxies); this is what plugins see; a route that requires a client certificate checks it,
//!    and a declared body larger than the route's limit is refused (413);
//! 4. rate limits keyed by client, header or route (429), before any plugin;
//! 5. plugin chain, `request-headers` phase, in configured order: before any
//!    of the body is read, so a denial costs no buffering;
//! 6. rate limits keyed by the consumer that phase authenticated (429);
//! 7. a chunked body is read up to the route's limit (413 past it), then
//!    the `request-body` phase, for plugins that declared it: the body is
//!    buffered once, up to the largest budget, and lent to them;
//! 8. upstream: `X-Forwarded-*` added, prefix stripped, the pool chosen
//!    (by the client's country on a route with regions), a target chosen,
//!    sent (502 unreachable, 503 when a region's pool is down and the route
//!    forbids cross-border failover, 504 too slow); bodies stream unless
//!    buffered in 7;
//! 9. plugin chain, `response-headers` then `response-body` phases, in
//!    reverse order;
//! 10. the response, with `x-request-id` and the rate-limit fields; one
//!     access log line.
//!
//! Any phase may stop the request: a plugin denial becomes the plugin's
//! response; every error becomes a response in one place,
//! [`GatewayError::into_response`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY,
};
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response, StatusCode, Uri, Version};

use crate::body::{self, BoxBody, Buffered};
use crate::connection_clock::InFlight;
use crate::context::RequestContext;
use crate::error::{GatewayError, RATELIMIT, RATELIMIT_POLICY};
use crate::forwarding::{self, X_REQUEST_ID};
use crate::gateway::Gateway;
use crate::plugin::bindings::{Denial, Phase};
use crate::plugin::body_types::content_type;
use crate::plugin::chain::{Flow, PhaseBody};
use crate::plugin::view::{RequestView, ResponseView};
use crate::ratelimit::{Allowance, Policy, Refused};
use crate::reply::Reply;
use crate::routing::{self, Route};
use crate::telemetry::traces::TraceContext;
use crate::telemetry::{
    self,
    access::{self, AccessFacts},
    finish::{Logged, Pending},
};
use crate::threats;
use crate::tls::TlsFacts;
use crate::uploads;
use crate::upstream::Upstream;

/// Serve one request.
pub async fn handle(
    gateway: Arc<Gateway>,
    request: Request<BoxBody>,
    client: SocketAddr,
    tls: Option<Arc<TlsFacts>>,
    mut in_flight: InFlight,
) -> Reply {
    let started = Instant::now();
    let time = SystemTime::now();
    let request_id = forwarding::request_id(request.headers());
    // Built of checked or generated text: never the empty fallback.
    let id_text = request_id.to_str().unwrap_or_default();
    // One copy of the id's text serves the plugins' view and the access
    // line.
    let shared_id: Arc<str> = Arc::from(id_text);
    let method = request.method().clone();
    // Only an access line or a span shows the target.
    let telemetry = telemetry::get();
    let target = if telemetry.shows_target() {
        access::redacted_target(
            request.uri().path(),
            request.uri().query(),
            &telemetry.redact_query,
        )
    } else {
        String::new()
    };
    let mut facts = AccessFacts {
        trace: telemetry.traces.as_ref().map(|exporter| {
            TraceContext::start(request.headers().get(&TRACEPARENT), exporter.sample)
        }),
        ..AccessFacts::default()
    };
    let bytes_in = Arc::new(AtomicU64::new(0));

    let is_tls = tls.is_some();
    let connection = Connection {
        peer_ip: client.ip(),
        tls,
    };
    // Boxed once here: unboxed, the large `proxy` future would be copied
    // into the deadline's future and again with every move of this one.
    let proxying = Box::pin(proxy(
        &gateway,
        request,
        connection,
        &request_id,
        &shared_id,
        &mut facts,
        bytes_in.clone(),
    ));
    // The connection's tick keeps the deadline when it can: a timer armed
    // and cancelled for every request cost 1.7% of a proxied request.
    let proxied = if in_flight.keeps_deadline(gateway.request_timeout, started) {
        in_flight.within_deadline(proxying).await
    } else {
        tokio::time::timeout(gateway.request_timeout, proxying)
            .await
            .ok()
    }
    .unwrap_or(Err(GatewayError::RequestTimeout));
    let mut reply = match proxied {
        Ok(reply) => reply,
        Err(error) => {
            tracing::warn!(request_id = id_text, error = %error, code = error.code(), "request failed");
            note_error(&mut facts, &error);
            error.into_response(id_text).into()
        }
    };
    // Set, not appended: these replace an upstream's fields of the name
    // (passed fields included, see `Reply`).
    let headers = reply.response.headers_mut();
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    if is_tls && let Some(hsts) = &gateway.hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    let status = reply.response.status().as_u16();
    if let Some(threats) = &gateway.threats
        && facts.deny_reason.as_deref() != Some("blocked")
    {
        threats.record(&threats::Outcome {
            client: facts.client_ip.unwrap_or(client.ip()),
            account: facts.account.as_deref(),
            status,
            // A block of the request, not of the upstream's response.
            waf_blocked: facts
                .deny_reason
                .as_deref()
                .is_some_and(|reason| reason.contains("waf-blocked"))
                && facts
                    .chain
                    .calls
                    .iter()
                    .rev()
                    .find(|call| call.outcome == crate::plugin::chain::Outcome::Deny)
                    .is_some_and(|call| call.phase.starts_with("request")),
        });
    }
    in_flight.responded();
    // The access line and the request's metrics are written when the
    // body has been sent.
    reply.map(|body| {
        Logged::wrap(
            body,
            Pending {
                time,
                started,
                request_id: shared_id,
                peer_ip: client.ip(),
                method,
                target,
                status,
                bytes_in,
                facts,
                in_flight,
            },
        )
    })
}

/// The W3C Trace Context header.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Count an error the gateway answered with where it has a metric.
fn note_error(facts: &mut AccessFacts, error: &GatewayError) {
    let metrics = &telemetry::get().metrics;
    let route = || facts.route.as_deref().unwrap_or("-").to_string();
    match error {
        GatewayError::RateLimited(rejection) => {
            metrics
                .rate_limited
                .get_or_create(&vec![("policy", rejection.name.to_string())])
                .inc();
        }
        GatewayError::UpstreamUnavailable(_)
        | GatewayError::UpstreamUnreachable(_)
        | GatewayError::UpstreamTimeout
        | GatewayError::BadUpstreamResponse(_)
        | GatewayError::RegionUnavailable(_) => {
            metrics
                .upstream_errors
                .get_or_create(&vec![
                    ("route", route()),
                    ("kind", error.code().to_string()),
                ])
                .inc();
        }
        _ => {}
    }
    if facts.deny_reason.is_none() {
        facts.deny_reason = Some(error.code().to_string());
    }
}

/// What the request's connection tells about the client.
struct Connection {
    peer_ip: IpAddr,
    tls: Option<Arc<TlsFacts>>,
}

async fn proxy(
    gateway: &Gateway,
    request: Request<BoxBody>,
    connection: Connection,
    request_id: &HeaderValue,
    shared_id: &Arc<str>,
    facts: &mut AccessFacts,
    bytes_in: Arc<AtomicU64>,
) -> Result<Reply, GatewayError> {
    // 1. Limits.
    let (mut parts, incoming) = request.into_parts();
    let max_body = gateway.max_request_body_bytes;
    // A signed upload URL may allow more than the server's limit; the
    // route it is for decides, once matched.
    let signed = uploads::signature::looks_signed(parts.uri.query());
    // Read once, for the server's limit here and the route's in step 3.
    let declared = declared_length(&parts.headers);
    if !signed && declared.is_some_and(|len| len > max_body) {
        return Err(GatewayError::PayloadTooLarge);
    }
    // hyper answers `100-continue` itself when the body is first read, so a
    // request refused before that never sends its body; any other
    // expectation cannot be met.
    if let Some(expect) = parts.headers.get(http::header::EXPECT)
        && !expect.as_bytes().eq_ignore_ascii_case(b"100-continue")
    {
        return Err(GatewayError::ExpectationFailed);
    }
    // The client, as trusted proxies say; a blocked client or account
    // (threat detection) goes no further, whatever it asks for.
    let client_ip =
        forwarding::client_ip(connection.peer_ip, &parts.headers, &gateway.trusted_proxies);
    facts.client_ip = Some(client_ip);
    if let Some(threats) = &gateway.threats {
        facts.account = threats.account(&parts.headers, parts.uri.query());
        threats
            .check_client(client_ip, facts.account.as_deref())
            .map_err(GatewayError::Blocked)?;
    }

    // 2. Route. Two Host headers could route by one and reach the
    // upstream with the other: refused, as RFC 9112 §3.2 says.
    let mut host_fields = parts.headers.get_all(HOST).iter();
    let host_field = host_fields.next();
    if host_fields.next().is_some() {
        return Err(GatewayError::BadRequest("more than one Host header"));
    }
    let authority = routing::authority(&parts.uri, host_field)
        .map(str::to_string)
        .ok_or(GatewayError::BadRequest("the request names no host"))?;
    // The upstream must see the host this request was routed by (step 3);
    // mostly the header says it already.
    let host_field_routed = host_field.is_some_and(|host| host.as_bytes() == authority.as_bytes());
    let route = gateway
        .router
        .find(&authority, parts.uri.path(), &parts.method)
        .ok_or(GatewayError::NoRoute)?;
    facts.route = Some(route.id.clone());
    facts.route_metrics = Some(route.metrics.clone());

    // A valid signed upload URL sets this request's body limit, and its
    // body streams upstream unbuffered (it has a Content-Length).
    let admitted = match &route.signed_uploads {
        Some(signed_uploads) => signed_uploads.admit(
            parts.method.as_str(),
            &authority,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            uploads::unix_now(),
        )?,
        None => None,
    };
    let body_limit = admitted.as_ref().map_or(max_body, |a| a.max_bytes);
    let limit = usize::try_from(body_limit).unwrap_or(usize::MAX);
    // A body that has ended (every request the gateway's own HTTP/1.1
    // server takes) has nothing to count or limit.
    let mut request_body = if http_body::Body::is_end_stream(&incoming) {
        incoming
    } else {
        body::counted(
            body::boxed(http_body_util::Limited::new(incoming, limit)),
            bytes_in,
        )
    };

    // 3. The request as plugins see it.
    // The upstream must see the host this request was routed by: an
    // absolute-form target or an HTTP/2 `:authority` wins over a `Host`
    // header that says otherwise (RFC 9112 §3.2.2).
    // Mostly it already does: then the header stays as it is.
    if !host_field_routed && let Ok(host) = HeaderValue::from_str(&authority) {
        parts.headers.insert(HOST, host);
    }
    let mut view = Arc::new(RequestView {
        method: parts.method.clone(),
        scheme: if connection.tls.is_some() {
            "https"
        } else {
            "http"
        },
        authority,
        path: parts.uri.path().to_string(),
        query: match &admitted {
            // The signature is for the gateway, not the upstream.
            Some(upload) => upload.upstream_query.clone(),
            None => parts.uri.query().map(str::to_string),
        },
        headers: std::mem::take(&mut parts.headers),
        version: parts.version,
        client_ip,
        peer_ip: connection.peer_ip,
        tls: connection.tls,
        route_id: route.id.clone(),
        request_id: shared_id.clone(),
    });
    let mut context = Arc::new(RequestContext::default());
    let chain = &route.chain;
    facts.chain = chain.budget();

    if route.require_client_cert && view.tls.as_ref().is_none_or(|t| t.client.is_none()) {
        return Err(GatewayError::ClientCertificateRequired);
    }
    let route_max_body = match &admitted {
        Some(upload) => upload.max_bytes,
        None => route.max_body_bytes.min(max_body),
    };
    if declared.is_some_and(|len| len > route_max_body) {
        return Err(GatewayError::PayloadTooLarge);
    }

    // 4. Rate limits keyed by client, header or route, before any plugin.
    let mut allowance = check_limits(&route.limits.before_plugins, &view, &context, None).await?;

    // 5. request-headers phase.
    //
    // Each phase's future is boxed, and made only where the route has a
    // plugin for it: held inline, the largest of them would size this
    // future, which every request allocates and moves, plugins or not.
    if chain.has_phase(Phase::RequestHeaders)
        && let Flow::Deny { plugin, denial } = Box::pin(chain.on_request(
            Phase::RequestHeaders,
            &mut view,
            None,
            &mut context,
            &mut facts.chain,
        ))
        .await?
    {
        return Ok(denied(facts, &context, &plugin, denial).into());
    }

    // A blocked consumer goes no further; its rate feeds the anomaly
    // detector.
    if let (Some(threats), Some(principal)) = (&gateway.threats, &context.principal) {
        threats
            .check_consumer(principal)
            .map_err(GatewayError::Blocked)?;
    }

    // 6. Rate limits keyed by the consumer the plugins authenticated.
    allowance = check_limits(
        &route.limits.after_authentication,
        &view,
        &context,
        allowance,
    )
    .await?;

    // A body of unknown length (chunked) is read up to the route's limit
    // before anything goes upstream, so an oversized one is refused (413)
    // with the upstream none the wiser. Declared lengths were checked above.
    if declared.is_none() && !http_body::Body::is_end_stream(&request_body) {
        request_body = match body::buffer_up_to(request_body, route_max_body).await {
            Ok(Buffered::Complete(bytes)) => body::full(bytes),
            Ok(Buffered::TooLarge(..)) => return Err(GatewayError::PayloadTooLarge),
            Err(e) => return Err(body_read_error(&*e)),
        };
    }

    // 7. request-body phase.
    if let Some(budget) = chain.body_budget(Phase::RequestBody, || content_type(&view.headers)) {
        let (mut bytes, rest) = match body::buffer_up_to(request_body, budget).await {
            Ok(Buffered::Complete(bytes)) => (bytes, None),
            Ok(Buffered::TooLarge(head, rest)) => (head, Some(rest)),
            Err(e) => return Err(body_read_error(&*e)),
        };
        let phase_body = PhaseBody {
            bytes: &mut bytes,
            complete: rest.is_none(),
        };
        if let Flow::Deny { plugin, denial } = Box::pin(chain.on_request(
            Phase::RequestBody,
            &mut view,
            Some(phase_body),
            &mut context,
            &mut facts.chain,
        ))
        .await?
        {
            return Ok(denied(facts, &context, &plugin, denial).into());
        }
        request_body = match rest {
            None => body::full(bytes),
            Some(rest) => body::chain(bytes, rest),
        };
    }

    // The signing endpoint answers here, after the chain authenticated.
    if let Upstream::UploadSigner(signer) = &route.upstream {
        let bytes = match body::buffer_up_to(request_body, uploads::signer::MAX_REQUEST_BYTES).await
        {
            Ok(Buffered::Complete(bytes)) => bytes,
            Ok(Buffered::TooLarge(..)) => return Err(GatewayError::PayloadTooLarge),
            Err(e) => return Err(body_read_error(&*e)),
        };
        return Ok(signer
            .answer(&view, &context, &bytes, uploads::unix_now())
            .into());
    }

    // 8. Upstream. The headers move into the upstream request unless a
    // response phase still needs the request view. A response-headers
    // phase whose kept decisions did not read the response (fixed
    // security headers, most often) is looked up now, as the request's
    // headers move: its edits apply to the response's fields where they
    // lie, unmerged. Not before a body phase, which reads the fields they
    // leave.
    let has_response_headers = chain.has_phase(Phase::ResponseHeaders);
    let has_response_body = chain.has_phase(Phase::ResponseBody);
    let kept_response = (has_response_headers && !has_response_body)
        .then(|| chain.kept_response(&view, &context))
        .flatten();
    let keep_view = kept_response.is_none() && (has_response_headers || has_response_body);
    let mut upstream_request = upstream_request(
        &mut view,
        keep_view,
        route,
        parts.uri.path_and_query(),
        request_body,
        request_id,
    )?;
    // With traces on, the upstream's parent span is this request's.
    if let Some(trace) = &facts.trace
        && let Ok(value) = HeaderValue::from_str(&trace.traceparent())
    {
        upstream_request
            .headers_mut()
            .insert(TRACEPARENT.clone(), value);
    }
    let upstream_started = Instant::now();
    note_context(facts, &context);
    let mut reply = match &route.regions {
        // The country a plugin established wins over the database's: a
        // plugin may know better (e.g. a trusted CDN's header).
        Some(regions) => {
            let home = regions.home(context.country.as_deref(), view.client_ip);
            Box::pin(regions.send(&route.upstream, home, upstream_request)).await?
        }
        None => route.upstream.send(upstream_request).await?,
    };
    facts.upstream = Some(upstream_started.elapsed());

    // 9. Response phases. They see every field in the map. A body of a type
    // no body phase reads is not buffered; with no response-headers phase
    // either, the response goes through as it came.
    let upstream_body_budget =
        chain.body_budget(Phase::ResponseBody, || reply.field(&CONTENT_TYPE));
    let answered_from_kept = match kept_response {
        Some(kept) => {
            let mut passed = reply.passed.as_deref_mut();
            let own = reply.response.headers_mut();
            kept.apply(&mut facts.chain, |edits| {
                edits.apply_to_fields(passed.as_deref_mut(), own)
            });
            true
        }
        None => false,
    };
    let has_response_headers = has_response_headers && !answered_from_kept;
    let response_phases = has_response_headers || upstream_body_budget.is_some();
    if response_phases {
        reply.merge_fields();
    }
    let Reply { response, passed } = reply;
    let (mut head, mut response_body) = response.into_parts();
    forwarding::strip_hop_by_hop(&mut head.headers);
    if response_phases {
        let mut response_view = Arc::new(ResponseView {
            status: head.status.as_u16(),
            headers: std::mem::take(&mut head.headers),
        });
        if has_response_headers
            && let Flow::Deny { plugin, denial } = Box::pin(chain.on_response(
                Phase::ResponseHeaders,
                &view,
                &mut response_view,
                None,
                &mut context,
                &mut facts.chain,
            ))
            .await?
        {
            return Ok(denied(facts, &context, &plugin, denial).into());
        }
        // Only a response-headers plugin can have changed the type.
        let body_budget = if has_response_headers {
            chain.body_budget(Phase::ResponseBody, || content_type(&response_view.headers))
        } else {
            upstream_body_budget
        };
        if let Some(budget) = body_budget {
            let (mut bytes, rest) = match body::buffer_up_to(response_body, budget).await {
                Ok(Buffered::Complete(bytes)) => (bytes, None),
                Ok(Buffered::TooLarge(head, rest)) => (head, Some(rest)),
                Err(e) => return Err(GatewayError::BadUpstreamResponse(e.to_string())),
            };
            let phase_body = PhaseBody {
                bytes: &mut bytes,
                complete: rest.is_none(),
            };
            if let Flow::Deny { plugin, denial } = Box::pin(chain.on_response(
                Phase::ResponseBody,
                &view,
                &mut response_view,
                Some(phase_body),
                &mut context,
                &mut facts.chain,
            ))
            .await?
            {
                return Ok(denied(facts, &context, &plugin, denial).into());
            }
            response_body = match rest {
                None => body::full(bytes),
                Some(rest) => body::chain(bytes, rest),
            };
        }
        head.headers = Arc::try_unwrap(response_view)
            .map_or_else(|shared| shared.headers.clone(), |v| v.headers);
    }

    // 10. The response, with the tightest rate limit's fields.
    let mut response = Response::from_parts(head, response_body);
    if let Some(allowance) = allowance {
        add_ratelimit_fields(response.headers_mut(), &allowance);
    }
    Ok(Reply { response, passed })
}

/// The request sent upstream: the view's method, path and headers (with
/// plugin edits), `X-Forwarded-*`, the route's prefix stripped.
/// `received` is the target the client sent, reused when the view's path
/// and query are still its own.
fn upstream_request(
    view: &mut Arc<RequestView>,
    keep_view: bool,
    route: &Route,
    received: Option<&PathAndQuery>,
    body: BoxBody,
    request_id: &HeaderValue,
) -> Result<Request<BoxBody>, GatewayError> {
    let mut headers = if keep_view {
        view.headers.clone()
    } else {
        std::mem::take(&mut Arc::make_mut(view).headers)
    };
    // Hop-by-hop headers belong to the client's connection, not this one.
    forwarding::strip_hop_by_hop(&mut headers);
    let view = &**view;
    let uri = match received {
        // Most requests: no prefix to strip and no plugin rewrite, so the
        // received target (already checked) goes as it came, shared, not
        // formatted and parsed again.
        Some(received)
            if route.strip_prefix.is_none()
                && received.as_str().starts_with('/')
                && received.path() == view.path
                && received.query() == view.query.as_deref() =>
        {
            Uri::from(received.clone())
        }
        _ => Uri::try_from(upstream_target(view, route))
            .map_err(|_| GatewayError::BadRequest("invalid request target"))?,
    };
    forwarding::add_forwarded(&mut headers, view.peer_ip, view.scheme, &view.authority);
    if !headers.contains_key(HOST)
        && let Ok(host) = HeaderValue::from_str(&view.authority)
    {
        headers.insert(HOST, host);
    }
    headers.insert(X_REQUEST_ID.clone(), request_id.clone());
    let mut request = Request::new(body);
    *request.method_mut() = view.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The view's path, the route's prefix stripped, and its query.
fn upstream_target(view: &RequestView, route: &Route) -> String {
    let path = match &route.strip_prefix {
        Some(prefix) => match view.path.strip_prefix(prefix.trim_end_matches('/')) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            // A plugin rewrote the path out of the prefix: send it as is.
            _ => view.path.as_str(),
        },
        None => view.path.as_str(),
    };
    match &view.query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    }
}

/// Count the request under each policy; the allowance with the fewest
/// requests left is the one reported to the client.
async fn check_limits(
    policies: &[Arc<Policy>],
    view: &RequestView,
    context: &RequestContext,
    mut tightest: Option<Allowance>,
) -> Result<Option<Allowance>, GatewayError> {
    for policy in policies {
        let key = policy.key.key(view, context);
        let allowance = policy
            .check_shared(&key)
            .await
            .map_err(|refused| match refused {
                Refused::Limited(rejection) => GatewayError::RateLimited(rejection),
                Refused::Unavailable => GatewayError::StateUnavailable,
            })?;
        if tightest
            .as_ref()
            .is_none_or(|t| allowance.remaining < t.remaining)
        {
            tightest = Some(allowance);
        }
    }
    Ok(tightest)
}

fn add_ratelimit_fields(headers: &mut HeaderMap, allowance: &Allowance) {
    if let Ok(value) = HeaderValue::from_str(allowance.policy.policy_field()) {
        headers.insert(RATELIMIT_POLICY.clone(), value);
    }
    let field = format!("\"{}\";r={}", allowance.policy.name, allowance.remaining);
    if let Ok(value) = HeaderValue::from_str(&field) {
        headers.insert(RATELIMIT.clone(), value);
    }
}

/// A plugin's denial as the client's response, noted for the access log.
fn denied(
    facts: &mut AccessFacts,
    context: &RequestContext,
    plugin: &str,
    denial: Denial,
) -> Response<BoxBody> {
    note_context(facts, context);
    facts.deny_reason = Some(format!("{plugin}: {}", denial.reason));
    denial_response(denial)
}

/// What the plugins established about the client, for the access log.
fn note_context(facts: &mut AccessFacts, context: &RequestContext) {
    facts.principal.clone_from(&context.principal);
    facts.country.clone_from(&context.country);
}

/// A plugin's denial as the client's response.
fn denial_response(denial: Denial) -> Response<BoxBody> {
    let mut response = Response::new(body::full(Bytes::from(denial.body)));
    *response.status_mut() = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::FORBIDDEN);
    for (name, value) in denial.headers {
        // Headers the plugin got wrong are dropped, not fatal: the denial stands.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) && !crate::plugin::edits::is_managed(&name)
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn body_read_error(error: &(dyn std::error::Error + 'static)) -> GatewayError {
    if error.is::<http_body_util::LengthLimitError>() {
        GatewayError::PayloadTooLarge
    } else {
        GatewayError::BadRequest("the request body could not be read")
    }
}
