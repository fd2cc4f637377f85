//! The table entries an instance lends to every call: the request, the
//! response and the context. Each is pushed on the instance's first call
//! that lends it and refilled on the calls after, rather than pushed and
//! deleted each time: a push boxes its value, so that saves an allocation
//! and a free per entry per call. Between calls the entries hold empty
//! views, so an idle instance keeps no request alive.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable, ResourceTableError};

use super::view::{ContextResource, RequestResource, RequestView, ResponseResource, ResponseView};
use crate::context::RequestContext;

/// Where an instance's lent entries are in its table, once made, and
/// what they hold between calls.
#[derive(Debug)]
pub struct LentEntries {
    request: Option<u32>,
    response: Option<u32>,
    context: Option<u32>,
    /// Empty views of this instance's own: emptying an entry is then a
    /// reference count this instance alone touches, not one every worker
    /// thread's calls would contend on.
    vacant: (Arc<RequestView>, Arc<ResponseView>, Arc<RequestContext>),
}

impl LentEntries {
    /// No entry made yet; made with the instance, off the request path.
    pub fn new() -> Self {
        Self {
            request: None,
            response: None,
            context: None,
            vacant: (
                Arc::new(vacant_request()),
                Arc::new(ResponseView {
                    status: 0,
                    headers: http::HeaderMap::new(),
                }),
                Arc::new(RequestContext::default()),
            ),
        }
    }

    /// Lend `request` for the next call; its entry's `rep`.
    pub fn request(
        &mut self,
        table: &mut ResourceTable,
        request: RequestResource,
    ) -> Result<u32, ResourceTableError> {
        fill(table, &mut self.request, request)
    }

    /// Lend `response` for the next call; its entry's `rep`.
    pub fn response(
        &mut self,
        table: &mut ResourceTable,
        response: ResponseResource,
    ) -> Result<u32, ResourceTableError> {
        fill(table, &mut self.response, response)
    }

    /// Lend `context` for the next call; its entry's `rep`.
    pub fn context(
        &mut self,
        table: &mut ResourceTable,
        context: ContextResource,
    ) -> Result<u32, ResourceTableError> {
        fill(table, &mut self.context, context)
    }

    /// The call is over: let go of what it was lent.
    pub fn vacate(&self, table: &mut ResourceTable) -> Result<(), ResourceTableError> {
        if let Some(rep) = self.request {
            *entry(table, rep)? = RequestResource {
                view: self.vacant.0.clone(),
                body: None,
            };
        }
        if let Some(rep) = self.response {
            *entry(table, rep)? = ResponseResource {
                view: self.vacant.1.clone(),
                body: None,
            };
        }
        if let Some(rep) = self.context {
            *entry(table, rep)? = ContextResource(self.vacant.2.clone());
        }
        Ok(())
    }
}

fn fill<T: Send + 'static>(
    table: &mut ResourceTable,
    slot: &mut Option<u32>,
    value: T,
) -> Result<u32, ResourceTableError> {
    match *slot {
        Some(rep) => {
            *entry(table, rep)? = value;
            Ok(rep)
        }
        None => {
            let rep = table.push(value)?.rep();
            *slot = Some(rep);
            Ok(rep)
        }
    }
}

fn entry<T: Send + 'static>(
    table: &mut ResourceTable,
    rep: u32,
) -> Result<&mut T, ResourceTableError> {
    table.get_mut(&Resource::<T>::new_borrow(rep))
}

/// The request an entry holds between calls.
fn vacant_request() -> RequestView {
    RequestView {
        method: http::Method::GET,
        scheme: "http",
        authority: String::new(),
        path: String::new(),
        query: None,
        headers: http::HeaderMap::new(),
        version: http::Version::HTTP_11,
        client_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        peer_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        tls: None,
        route_id: Arc::from(""),
        request_id: Arc::from(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> RequestResource {
        RequestResource {
            view: Arc::new(RequestView {
                path: path.into(),
                ..vacant_request()
            }),
            body: Some(bytes::Bytes::from_static(b"body")),
        }
    }

    #[test]
    fn entries_are_made_once_refilled_and_emptied_after_a_call() {
        let mut table = ResourceTable::new();
        let mut lent = LentEntries::new();
        let first = lent.request(&mut table, request("/a")).expect("lend");
        let context = Arc::new(RequestContext::default());
        lent.context(&mut table, ContextResource(context.clone()))
            .expect("lend");
        lent.vacate(&mut table).expect("vacate");
        let vacant: &mut RequestResource = entry(&mut table, first).expect("entry");
        assert_eq!(vacant.view.path, "");
        assert!(vacant.body.is_none());
        assert_eq!(Arc::strong_count(&context), 1, "the context is let go");

        let second = lent.request(&mut table, request("/b")).expect("lend");
        assert_eq!(second, first, "the same entry, refilled");
        let refilled: &mut RequestResource = entry(&mut table, second).expect("entry");
        assert_eq!(refilled.view.path, "/b");
    }
}
