//! The host side of the WIT imports: the getters of the lent resources and
//! the capability interfaces. One `impl` per WIT interface or resource.

use std::time::Duration;

use wasmtime::component::Resource;

use super::bindings::{
    api_keys, clock, crypto, decision_cache, geo, kv, log, metrics, outbound_http, rate_limit,
    types,
};
use super::decision_cache::Read;
use super::state::InstanceState;
use super::view::{
    BodyResource, ContextResource, RequestResource, ResponseResource, header_all, header_first,
    header_list, raw_header_list, version_text,
};

type Result<T> = wasmtime::Result<T>;

impl types::Host for InstanceState {}

/// The verified client certificate of the request's connection.
fn client_cert(view: &super::view::RequestView) -> Option<&crate::tls::ClientCertificate> {
    view.tls.as_ref()?.client.as_ref()
}

impl InstanceState {
    fn lend_body(&mut self, body: Option<bytes::Bytes>) -> Result<Option<Resource<BodyResource>>> {
        let Some(bytes) = body else { return Ok(None) };
        let handle = self.table.push(BodyResource(bytes))?;
        self.lent_bodies.push(handle.rep());
        Ok(Some(handle))
    }
}

impl types::HostBody for InstanceState {
    fn size(&mut self, body: Resource<BodyResource>) -> Result<u64> {
        Ok(self.table.get(&body)?.0.len() as u64)
    }

    fn read(&mut self, body: Resource<BodyResource>, offset: u64, len: u64) -> Result<Vec<u8>> {
        let bytes = &self.table.get(&body)?.0;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    fn bytes(&mut self, body: Resource<BodyResource>) -> Result<Vec<u8>> {
        Ok(self.table.get(&body)?.0.to_vec())
    }

    fn drop(&mut self, body: Resource<BodyResource>) -> Result<()> {
        self.table.delete(body)?;
        Ok(())
    }
}

impl types::HostRequest for InstanceState {
    fn method(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::Method);
        Ok(self.table.get(&r)?.view.method.as_str().to_string())
    }

    fn scheme(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::Scheme);
        Ok(self.table.get(&r)?.view.scheme.to_string())
    }

    fn authority(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::Authority);
        Ok(self.table.get(&r)?.view.authority.clone())
    }

    fn path(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::Path);
        Ok(self.table.get(&r)?.view.path.clone())
    }

    fn query(&mut self, r: Resource<RequestResource>) -> Result<Option<String>> {
        self.note(|| Read::Query);
        Ok(self.table.get(&r)?.view.query.clone())
    }

    fn header(&mut self, r: Resource<RequestResource>, name: String) -> Result<Option<String>> {
        self.note(|| Read::Header(name.as_str().into()));
        Ok(header_first(&self.table.get(&r)?.view.headers, &name))
    }

    fn header_all(&mut self, r: Resource<RequestResource>, name: String) -> Result<Vec<String>> {
        self.note(|| Read::Header(name.as_str().into()));
        Ok(header_all(&self.table.get(&r)?.view.headers, &name))
    }

    fn headers(&mut self, r: Resource<RequestResource>) -> Result<Vec<(String, String)>> {
        self.note(|| Read::Headers);
        Ok(header_list(&self.table.get(&r)?.view.headers))
    }

    fn raw_headers(&mut self, r: Resource<RequestResource>) -> Result<Vec<(String, Vec<u8>)>> {
        self.note(|| Read::Headers);
        Ok(raw_header_list(&self.table.get(&r)?.view.headers))
    }

    fn version(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::Version);
        Ok(version_text(self.table.get(&r)?.view.version).to_string())
    }

    fn client_ip(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::ClientIp);
        Ok(crate::ip_text::ip_string(
            self.table.get(&r)?.view.client_ip,
        ))
    }

    fn route_id(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.note(|| Read::RouteId);
        Ok(self.table.get(&r)?.view.route_id.as_ref().to_owned())
    }

    fn request_id(&mut self, r: Resource<RequestResource>) -> Result<String> {
        self.taint();
        Ok(self.table.get(&r)?.view.request_id.as_ref().to_owned())
    }

    fn tls_version(&mut self, r: Resource<RequestResource>) -> Result<Option<String>> {
        self.note(|| Read::TlsVersion);
        Ok(self
            .table
            .get(&r)?
            .view
            .tls
            .as_ref()
            .and_then(|t| t.version.clone()))
    }

    fn tls_sni(&mut self, r: Resource<RequestResource>) -> Result<Option<String>> {
        self.note(|| Read::TlsSni);
        Ok(self
            .table
            .get(&r)?
            .view
            .tls
            .as_ref()
            .and_then(|t| t.sni.clone()))
    }

    fn tls_client_subject(&mut self, r: Resource<RequestResource>) -> Result<Option<String>> {
        self.note(|| Read::TlsClientSubject);
        Ok(client_cert(&self.table.get(&r)?.view).map(|c| c.subject.clone()))
    }

    fn tls_client_fingerprint(&mut self, r: Resource<RequestResource>) -> Result<Option<String>> {
        self.note(|| Read::TlsClientFingerprint);
        Ok(client_cert(&self.table.get(&r)?.view).map(|c| c.fingerprint.clone()))
    }

    fn tls_client_sans(&mut self, r: Resource<RequestResource>) -> Result<Vec<String>> {
        self.note(|| Read::TlsClientSans);
        Ok(client_cert(&self.table.get(&r)?.view)
            .map(|c| c.sans.clone())
            .unwrap_or_default())
    }

    fn body(&mut self, r: Resource<RequestResource>) -> Result<Option<Resource<BodyResource>>> {
        self.taint();
        let body = self.table.get(&r)?.body.clone();
        self.lend_body(body)
    }

    fn drop(&mut self, r: Resource<RequestResource>) -> Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl types::HostResponse for InstanceState {
    fn status(&mut self, r: Resource<ResponseResource>) -> Result<u16> {
        self.note(|| Read::Status);
        Ok(self.table.get(&r)?.view.status)
    }

    fn header(&mut self, r: Resource<ResponseResource>, name: String) -> Result<Option<String>> {
        self.note(|| Read::ResponseHeader(name.as_str().into()));
        Ok(header_first(&self.table.get(&r)?.view.headers, &name))
    }

    fn header_all(&mut self, r: Resource<ResponseResource>, name: String) -> Result<Vec<String>> {
        self.note(|| Read::ResponseHeader(name.as_str().into()));
        Ok(header_all(&self.table.get(&r)?.view.headers, &name))
    }

    fn headers(&mut self, r: Resource<ResponseResource>) -> Result<Vec<(String, String)>> {
        self.note(|| Read::ResponseHeaders);
        Ok(header_list(&self.table.get(&r)?.view.headers))
    }

    fn body(&mut self, r: Resource<ResponseResource>) -> Result<Option<Resource<BodyResource>>> {
        self.taint();
        let body = self.table.get(&r)?.body.clone();
        self.lend_body(body)
    }

    fn drop(&mut self, r: Resource<ResponseResource>) -> Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl types::HostContext for InstanceState {
    fn principal(&mut self, c: Resource<ContextResource>) -> Result<Option<String>> {
        self.note(|| Read::Principal);
        Ok(self.table.get(&c)?.0.principal.clone())
    }

    fn scopes(&mut self, c: Resource<ContextResource>) -> Result<Vec<String>> {
        self.note(|| Read::Scopes);
        Ok(self.table.get(&c)?.0.scopes.clone())
    }

    fn roles(&mut self, c: Resource<ContextResource>) -> Result<Vec<String>> {
        self.note(|| Read::Roles);
        Ok(self.table.get(&c)?.0.roles.clone())
    }

    fn claims(&mut self, c: Resource<ContextResource>) -> Result<Vec<(String, String)>> {
        self.note(|| Read::Claims);
        Ok(self.table.get(&c)?.0.claims.clone())
    }

    fn claim(&mut self, c: Resource<ContextResource>, name: String) -> Result<Option<String>> {
        self.note(|| Read::Claims);
        let ctx = &self.table.get(&c)?.0;
        Ok(ctx
            .claims
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone()))
    }

    fn country(&mut self, c: Resource<ContextResource>) -> Result<Option<String>> {
        self.note(|| Read::Country);
        Ok(self.table.get(&c)?.0.country.clone())
    }

    fn risk_score(&mut self, c: Resource<ContextResource>) -> Result<Option<u32>> {
        self.note(|| Read::RiskScore);
        Ok(self.table.get(&c)?.0.risk_score)
    }

    fn get(&mut self, c: Resource<ContextResource>, key: String) -> Result<Option<String>> {
        self.note(|| Read::Entry(key.as_str().into()));
        Ok(self.table.get(&c)?.0.entries.get(&key).cloned())
    }

    fn drop(&mut self, c: Resource<ContextResource>) -> Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

impl log::Host for InstanceState {
    fn write(&mut self, level: log::Level, message: String) -> Result<()> {
        self.taint();
        // Guest text is untrusted: bound it so a plugin cannot flood the log.
        let message: String = message.chars().take(4096).collect();
        let plugin = &*self.plugin_name;
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl clock::Host for InstanceState {
    fn now_unix_ms(&mut self) -> Result<u64> {
        Ok(super::set_clock::wall_clock_ms(self.clock.as_deref()))
    }

    fn monotonic_ns(&mut self) -> Result<u64> {
        let elapsed = super::engine::process_start().elapsed();
        Ok(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl kv::Host for InstanceState {
    async fn get(
        &mut self,
        key: String,
    ) -> Result<std::result::Result<Option<Vec<u8>>, kv::KvError>> {
        self.taint();
        Ok(match &self.kv_shared {
            Some(shared) => shared.get(&key).await.map_err(|_| kv_unavailable()),
            None => Ok(self.kv.get(&key)),
        })
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
    ) -> Result<std::result::Result<(), kv::KvError>> {
        self.taint();
        let ttl = (ttl_ms > 0).then(|| Duration::from_millis(ttl_ms));
        Ok(match &self.kv_shared {
            Some(_) if value.len() > crate::state::kv::MAX_VALUE_BYTES => {
                Err(kv::KvError::QuotaExceeded)
            }
            Some(shared) => shared
                .set(&key, &value, ttl)
                .await
                .map_err(|_| kv_unavailable()),
            None => self
                .kv
                .set(&key, &value, ttl)
                .map_err(|_| kv::KvError::QuotaExceeded),
        })
    }

    async fn delete(&mut self, key: String) -> Result<std::result::Result<bool, kv::KvError>> {
        self.taint();
        Ok(match &self.kv_shared {
            Some(shared) => shared.delete(&key).await.map_err(|_| kv_unavailable()),
            None => Ok(self.kv.delete(&key)),
        })
    }
}

/// What a plugin learns when the shared store fails: nothing internal.
fn kv_unavailable() -> kv::KvError {
    kv::KvError::Unavailable("the shared store is unavailable".into())
}

impl rate_limit::Host for InstanceState {
    fn check(
        &mut self,
        policy: String,
        key: String,
    ) -> Result<std::result::Result<rate_limit::Outcome, String>> {
        self.taint();
        let Some(policy) = self.rate_limits.get(&policy) else {
            return Ok(Err(format!("no rate limit {policy:?} in [rate_limits]")));
        };
        // Keys are namespaced per plugin, as in the key-value store.
        let key = format!("{}\u{0}{key}", self.plugin_name);
        Ok(Ok(match policy.check(&key) {
            Ok(allowance) => rate_limit::Outcome::Allowed(allowance.remaining),
            Err(rejection) => rate_limit::Outcome::Limited(
                u64::try_from(rejection.retry_after.as_millis()).unwrap_or(u64::MAX),
            ),
        }))
    }
}

impl outbound_http::Host for InstanceState {
    async fn send(
        &mut self,
        request: outbound_http::OutgoingRequest,
    ) -> Result<std::result::Result<outbound_http::IncomingResponse, outbound_http::HttpError>>
    {
        self.taint();
        use super::outbound::{Outcome, Outgoing, send};
        let started = std::time::Instant::now();
        let outcome = send(
            &self.http_allow,
            Outgoing {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body: request.body,
                timeout_ms: request.timeout_ms,
            },
        )
        .await;
        // Waiting on I/O is not the plugin's compute: the call's deadline
        // moves by the time spent here, up to an allowance per call so a
        // plugin cannot chain calls without end.
        let waited = started.elapsed().min(self.io_allowance);
        self.io_allowance -= waited;
        self.deadline += waited;
        Ok(match outcome {
            Outcome::Response {
                status,
                headers,
                body,
            } => Ok(outbound_http::IncomingResponse {
                status,
                headers,
                body,
            }),
            Outcome::NotAllowed => Err(outbound_http::HttpError::NotAllowed),
            Outcome::Timeout => Err(outbound_http::HttpError::Timeout),
            Outcome::TooLarge => Err(outbound_http::HttpError::TooLarge),
            Outcome::Failed(text) => Err(outbound_http::HttpError::Failed(text)),
        })
    }
}

impl api_keys::Host for InstanceState {
    async fn check(
        &mut self,
        key: String,
    ) -> Result<std::result::Result<api_keys::Grant, api_keys::Refusal>> {
        self.taint();
        use crate::apikeys::{Limit, Refusal, millis_up};
        let Some(keys) = &self.api_keys else {
            // Validation refuses configs that grant this without [api_keys].
            return Ok(Err(api_keys::Refusal::Invalid));
        };
        Ok(match keys.check(&key).await {
            Ok(grant) => Ok(api_keys::Grant {
                key_id: grant.record.id,
                consumer: grant.record.consumer,
                plan: grant.record.plan,
                rate_remaining: grant.usage.rate_remaining,
                quota_remaining: grant.usage.quota_remaining,
            }),
            Err(Refusal::Invalid) => Err(api_keys::Refusal::Invalid),
            Err(Refusal::Limited(Limit::Rate {
                policy,
                retry_after,
            })) => Err(api_keys::Refusal::RateLimited(api_keys::Limited {
                policy,
                retry_after_ms: millis_up(retry_after),
            })),
            Err(Refusal::Limited(Limit::Quota {
                policy,
                retry_after,
            })) => Err(api_keys::Refusal::QuotaExceeded(api_keys::Limited {
                policy,
                retry_after_ms: millis_up(retry_after),
            })),
            // `rate_limits_on_error = "deny"` with Redis unreachable: the
            // call fails, so the request does (fail closed).
            Err(Refusal::Limited(Limit::Unavailable)) => {
                return Err(wasmtime::Error::msg("shared plan counts unavailable"));
            }
        })
    }
}

impl crypto::Host for InstanceState {
    fn verify(
        &mut self,
        algorithm: crypto::Algorithm,
        key: crypto::PublicKey,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<bool> {
        use super::crypto::{Algorithm, PublicKey, verify};
        let algorithm = match algorithm {
            crypto::Algorithm::Rs256 => Algorithm::Rs256,
            crypto::Algorithm::Rs384 => Algorithm::Rs384,
            crypto::Algorithm::Rs512 => Algorithm::Rs512,
            crypto::Algorithm::Ps256 => Algorithm::Ps256,
            crypto::Algorithm::Ps384 => Algorithm::Ps384,
            crypto::Algorithm::Ps512 => Algorithm::Ps512,
            crypto::Algorithm::Es256 => Algorithm::Es256,
            crypto::Algorithm::Es384 => Algorithm::Es384,
            crypto::Algorithm::Ed25519 => Algorithm::Ed25519,
        };
        let key = match &key {
            crypto::PublicKey::Rsa(rsa) => PublicKey::Rsa {
                n: &rsa.n,
                e: &rsa.e,
            },
            crypto::PublicKey::Ec(ec) => PublicKey::Ec { x: &ec.x, y: &ec.y },
            crypto::PublicKey::Ed25519(x) => PublicKey::Ed25519(x),
        };
        Ok(verify(algorithm, key, &message, &signature))
    }
}

impl metrics::Host for InstanceState {
    fn counter_add(&mut self, event: String, label: Option<String>, value: u64) -> Result<()> {
        self.taint();
        crate::telemetry::get().metrics.plugin_event(
            &self.plugin_name,
            &event,
            label.as_deref(),
            value,
        );
        Ok(())
    }
}

impl geo::Host for InstanceState {
    fn country(&mut self, ip: String) -> Result<Option<String>> {
        let generation = self.geo.as_ref().map_or(0, |db| db.generation());
        if let Some(recording) = &mut self.recording {
            recording.looked_up_country(generation);
        }
        let (Some(db), Ok(ip)) = (&self.geo, ip.parse::<std::net::IpAddr>()) else {
            return Ok(None);
        };
        Ok(db.country(ip))
    }
}

impl decision_cache::Host for InstanceState {
    fn reusable_for(&mut self, ttl_ms: u64) -> Result<()> {
        if let Some(recording) = &mut self.recording {
            recording.reusable_for(Duration::from_millis(ttl_ms));
        }
        Ok(())
    }
}
