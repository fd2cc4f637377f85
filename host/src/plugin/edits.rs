//! Applying a plugin's edits. The host, not the plugin, checks each edit: a
//! header that is not valid HTTP, a path that is not a path, or a context
//! write the plugin's role does not allow makes the call a plugin failure.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};

use super::bindings::Edit;
use crate::config::PluginRole;
use crate::context::RequestContext;
use crate::upstream::PassedFields;

/// An edit the host refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// Not a valid header name or value.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// Not a valid origin-form path.
    #[error("invalid path rewrite {0:?}")]
    InvalidPath(String),
    /// The edit does not fit the phase.
    #[error("{0} is not allowed in this phase")]
    WrongPhase(&'static str),
    /// Only authentication plugins may set the principal.
    #[error("only plugins with role = \"authentication\" or \"authorizer\" may set the principal")]
    NotAuthentication,
    /// The plugin may not touch hop-by-hop or framing headers.
    #[error("header {0:?} is managed by the gateway")]
    ManagedHeader(String),
}

/// Where the edits of one call land.
pub struct EditTarget<'a> {
    /// Headers the edits apply to (request headers in request phases,
    /// response headers in response phases).
    pub headers: &'a mut HeaderMap,
    /// The request's path and query, for rewrites (request phases only).
    pub path: Option<(&'a mut String, &'a mut Option<String>)>,
    /// The body, for replacements (body phases only).
    pub body: Option<&'a mut Bytes>,
    /// The shared context.
    pub context: &'a mut Arc<RequestContext>,
}

/// An edit that passed every check and can no longer fail.
#[derive(Clone)]
enum Checked {
    Set(HeaderName, HeaderValue),
    Append(HeaderName, HeaderValue),
    Remove(HeaderName),
    Path(String, Option<String>),
    Body(Bytes),
    Context(Edit),
}

/// A decision's edits: as the plugin's call returned them, or as a
/// decision cache keeps them, checked once.
#[derive(Clone)]
pub enum Edits {
    /// Not checked yet.
    Returned(Vec<Edit>),
    /// Checked when the decision was kept.
    Kept(CheckedEdits),
}

impl Edits {
    /// Whether there is no edit.
    pub fn is_empty(&self) -> bool {
        match self {
            Edits::Returned(edits) => edits.is_empty(),
            Edits::Kept(edits) => edits.0.is_empty(),
        }
    }

    /// Apply them as [`apply`] does; kept edits were checked for the same
    /// plugin and phase, so they cannot be refused.
    pub fn apply(self, role: PluginRole, target: &mut EditTarget<'_>) -> Result<(), EditError> {
        match self {
            Edits::Returned(edits) => apply(edits, role, target),
            Edits::Kept(edits) => {
                for edit in edits.0.iter() {
                    apply_checked(edit.clone(), target);
                }
                Ok(())
            }
        }
    }
}

/// Edits checked once, shared by every request a kept decision serves:
/// giving the decision again copies no string and parses no header.
#[derive(Clone)]
pub struct CheckedEdits(Arc<[Checked]>);

impl CheckedEdits {
    /// Check `edits` of a plugin of `role` for a headers phase, of a
    /// request when `has_path` (where a path may be rewritten).
    pub fn check(edits: &[Edit], role: PluginRole, has_path: bool) -> Result<Self, EditError> {
        let checked = edits
            .iter()
            .map(|edit| check(edit.clone(), role, has_path, false))
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(Self(checked))
    }

    /// Whether each edit sets, appends or removes a header field.
    pub fn only_fields(&self) -> bool {
        self.0.iter().all(|edit| {
            matches!(
                edit,
                Checked::Set(..) | Checked::Append(..) | Checked::Remove(_)
            )
        })
    }

    /// Apply the field edits to a response's `headers`, beside which
    /// its upstream's fields may still be `passed` as they came (the
    /// writer sends the map's in place of passed fields of the same
    /// name): as they would apply to one map holding both.
    pub fn apply_to_fields(&self, mut passed: Option<&mut PassedFields>, headers: &mut HeaderMap) {
        for edit in self.0.iter() {
            // The upstream's fields of the name give way first, as they
            // would in one map.
            if let Some(passed) = passed.as_deref_mut() {
                match edit {
                    Checked::Set(name, _) | Checked::Remove(name) => passed.remove(name),
                    Checked::Append(name, _) => passed.move_into(name, headers),
                    // `only_fields` keeps these away.
                    Checked::Path(..) | Checked::Body(_) | Checked::Context(_) => {}
                }
            }
            apply_field(edit.clone(), headers);
        }
    }
}

/// Apply `edits` in order, all or nothing: every edit is checked first, and
/// if one is refused none is applied, so a plugin that fails open leaves
/// no half-made changes behind.
pub fn apply(
    edits: Vec<Edit>,
    role: PluginRole,
    target: &mut EditTarget<'_>,
) -> Result<(), EditError> {
    let (has_path, has_body) = (target.path.is_some(), target.body.is_some());
    let checked = edits
        .into_iter()
        .map(|edit| check(edit, role, has_path, has_body))
        .collect::<Result<Vec<_>, _>>()?;
    for edit in checked {
        apply_checked(edit, target);
    }
    Ok(())
}

fn apply_checked(edit: Checked, target: &mut EditTarget<'_>) {
    match edit {
        Checked::Path(path, query) => {
            if let Some((old_path, old_query)) = target.path.as_mut() {
                **old_path = path;
                **old_query = query;
            }
        }
        Checked::Body(bytes) => {
            target
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            if let Some(body) = target.body.as_deref_mut() {
                *body = bytes;
            }
        }
        Checked::Context(edit) => apply_to_context(edit, target.context),
        field => apply_field(field, target.headers),
    }
}

/// A header field edit (set, append, remove) on `headers`; the other
/// kinds are [`apply_checked`]'s.
fn apply_field(edit: Checked, headers: &mut HeaderMap) {
    match edit {
        Checked::Set(name, value) => {
            headers.insert(name, value);
        }
        Checked::Append(name, value) => {
            headers.append(name, value);
        }
        Checked::Remove(name) => {
            headers.remove(name);
        }
        Checked::Path(..) | Checked::Body(_) | Checked::Context(_) => {}
    }
}

fn check(
    edit: Edit,
    role: PluginRole,
    has_path: bool,
    has_body: bool,
) -> Result<Checked, EditError> {
    Ok(match edit {
        Edit::SetHeader((name, value)) => {
            let (name, value) = header(&name, &value)?;
            Checked::Set(name, value)
        }
        Edit::AppendHeader((name, value)) => {
            let (name, value) = header(&name, &value)?;
            Checked::Append(name, value)
        }
        Edit::RemoveHeader(name) => Checked::Remove(header_name(&name)?),
        Edit::RewritePath(path) => {
            if !has_path {
                return Err(EditError::WrongPhase("rewrite-path"));
            }
            let uri: http::uri::PathAndQuery = path
                .parse()
                .map_err(|_| EditError::InvalidPath(path.clone()))?;
            if !uri.path().starts_with('/') {
                return Err(EditError::InvalidPath(path));
            }
            Checked::Path(uri.path().to_string(), uri.query().map(str::to_string))
        }
        Edit::ReplaceBody(bytes) => {
            if !has_body {
                return Err(EditError::WrongPhase("replace-body"));
            }
            Checked::Body(Bytes::from(bytes))
        }
        Edit::SetPrincipal(_) if !role.authenticates() => {
            return Err(EditError::NotAuthentication);
        }
        context_edit => Checked::Context(context_edit),
    })
}

fn apply_to_context(edit: Edit, context: &mut Arc<RequestContext>) {
    let context = Arc::make_mut(context);
    match edit {
        Edit::SetPrincipal(principal) => context.principal = Some(principal),
        Edit::AddScopes(scopes) => context.scopes.extend(scopes),
        Edit::AddRoles(roles) => context.roles.extend(roles),
        Edit::SetClaim((name, value)) => context.set_claim(name, value),
        Edit::SetCountry(country) => context.country = Some(country),
        Edit::SetRiskScore(score) => context.risk_score = Some(score.min(100)),
        Edit::SetEntry((key, value)) => {
            context.entries.insert(key, value);
        }
        // Header, path and body edits never reach here: `check` sorts them.
        Edit::SetHeader(_)
        | Edit::AppendHeader(_)
        | Edit::RemoveHeader(_)
        | Edit::RewritePath(_)
        | Edit::ReplaceBody(_) => {}
    }
}

/// Whether a plugin may set this header on a request, a response or a
/// denial: the gateway owns message framing and connection management.
pub fn is_managed(name: &HeaderName) -> bool {
    MANAGED.contains(&name.as_str())
}

/// Headers a plugin may not set or remove: the gateway owns message framing
/// and connection management.
const MANAGED: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

fn header_name(name: &str) -> Result<HeaderName, EditError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| EditError::InvalidHeader(name.into()))?;
    if is_managed(&parsed) {
        return Err(EditError::ManagedHeader(name.into()));
    }
    Ok(parsed)
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), EditError> {
    let value = HeaderValue::from_str(value).map_err(|_| EditError::InvalidHeader(name.into()))?;
    Ok((header_name(name)?, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::view::RequestView;

    fn request() -> Arc<RequestView> {
        Arc::new(RequestView {
            method: http::Method::GET,
            scheme: "http",
            authority: "example.com".into(),
            path: "/a".into(),
            query: None,
            headers: HeaderMap::new(),
            version: http::Version::HTTP_11,
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            peer_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            tls: None,
            route_id: Arc::from("r"),
            request_id: Arc::from("id"),
        })
    }

    #[test]
    fn header_and_path_edits_apply_in_order() {
        let mut headers = HeaderMap::new();
        let mut req = request();
        let req = Arc::make_mut(&mut req);
        let mut ctx = Arc::new(RequestContext::default());
        let path = Some((&mut req.path, &mut req.query));
        let mut target = EditTarget {
            headers: &mut headers,
            path,
            body: None,
            context: &mut ctx,
        };
        let edits = vec![
            Edit::SetHeader(("x-a".into(), "1".into())),
            Edit::AppendHeader(("x-a".into(), "2".into())),
            Edit::RewritePath("/b?c=d".into()),
            Edit::SetEntry(("k".into(), "v".into())),
        ];
        apply(edits, PluginRole::Policy, &mut target).expect("valid edits");
        assert_eq!(headers.get_all("x-a").iter().count(), 2);
        assert_eq!(
            (req.path.as_str(), req.query.as_deref()),
            ("/b", Some("c=d"))
        );
        assert_eq!(ctx.entries.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn invalid_and_forbidden_edits_are_refused() {
        let mut headers = HeaderMap::new();
        let mut ctx = Arc::new(RequestContext::default());
        let mut target = EditTarget {
            headers: &mut headers,
            path: None,
            body: None,
            context: &mut ctx,
        };
        let cases = [
            (
                Edit::SetHeader(("x".into(), "a\nb".into())),
                EditError::InvalidHeader("x".into()),
            ),
            (
                Edit::RemoveHeader("content-length".into()),
                EditError::ManagedHeader("content-length".into()),
            ),
            (
                Edit::RewritePath("/x".into()),
                EditError::WrongPhase("rewrite-path"),
            ),
            (
                Edit::ReplaceBody(vec![]),
                EditError::WrongPhase("replace-body"),
            ),
            (
                Edit::SetPrincipal("alice".into()),
                EditError::NotAuthentication,
            ),
        ];
        for (edit, expected) in cases {
            assert_eq!(
                apply(vec![edit], PluginRole::Policy, &mut target),
                Err(expected)
            );
        }
        assert_eq!(ctx.principal, None);
    }

    #[test]
    fn a_refused_edit_leaves_everything_unchanged() {
        let mut headers = HeaderMap::new();
        let mut ctx = Arc::new(RequestContext::default());
        let mut target = EditTarget {
            headers: &mut headers,
            path: None,
            body: None,
            context: &mut ctx,
        };
        let edits = vec![
            Edit::SetHeader(("x-user".into(), "mallory".into())),
            Edit::SetEntry(("k".into(), "v".into())),
            Edit::SetPrincipal("mallory".into()),
        ];
        assert_eq!(
            apply(edits, PluginRole::Policy, &mut target),
            Err(EditError::NotAuthentication)
        );
        assert!(headers.is_empty());
        assert!(ctx.entries.is_empty());
    }

    #[test]
    fn authentication_plugins_may_set_the_principal() {
        let mut headers = HeaderMap::new();
        let mut ctx = Arc::new(RequestContext::default());
        let mut target = EditTarget {
            headers: &mut headers,
            path: None,
            body: None,
            context: &mut ctx,
        };
        apply(
            vec![Edit::SetPrincipal("alice".into())],
            PluginRole::Authentication,
            &mut target,
        )
        .expect("allowed");
        assert_eq!(ctx.principal.as_deref(), Some("alice"));
    }

    #[test]
    fn field_edits_on_passed_fields_make_what_they_make_on_the_merged_map() {
        let set = |name: &str, value: &str| Edit::SetHeader((name.into(), value.into()));
        let append = |name: &str, value: &str| Edit::AppendHeader((name.into(), value.into()));
        let remove = |name: &str| Edit::RemoveHeader(name.into());
        let cases = [
            vec![
                remove("server"),
                set("x-content-type-options", "nosniff"),
                set("set-cookie", "c=3"),
                append("x-request-id", "gateway"),
            ],
            vec![append("set-cookie", "c=3"), remove("set-cookie")],
            vec![set("server", "gateway"), append("server", "again")],
            vec![append("set-cookie", "c=3"), append("set-cookie", "d=4")],
            vec![remove("x-absent"), append("x-new", "1")],
        ];
        for edits in cases {
            let mut merged = HeaderMap::new();
            PassedFields::sample().merge_into(&mut merged);
            let mut context = Arc::new(RequestContext::default());
            let mut target = EditTarget {
                headers: &mut merged,
                path: None,
                body: None,
                context: &mut context,
            };
            apply(edits.clone(), PluginRole::Policy, &mut target).expect("valid edits");

            let checked = CheckedEdits::check(&edits, PluginRole::Policy, false).expect("valid");
            assert!(checked.only_fields());
            let (mut fields, mut own) = (PassedFields::sample(), HeaderMap::new());
            checked.apply_to_fields(Some(&mut fields), &mut own);
            fields.merge_into(&mut own);
            assert_eq!(own, merged, "{edits:?}");
            // And to a response whose fields are all in its map.
            let mut whole = HeaderMap::new();
            PassedFields::sample().merge_into(&mut whole);
            checked.apply_to_fields(None, &mut whole);
            assert_eq!(whole, merged, "{edits:?}");
        }
    }
}
