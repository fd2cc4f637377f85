//! Write [Portcullis](https://example.invalid/portcullis) policy plugins in Rust.
//!
//! A plugin is a type that implements [`Policy`]: it is built once per
//! instance from the route's settings ([`Policy::configure`]), then asked for a
//! [`Decision`] at each phase it declared in [`Policy::PHASES`]. The
//! [`export_policy!`] macro turns it into the component exports the gateway
//! calls. Build it with `cargo build --target wasm32-wasip2 --release`.
//!
//! ```no_run
//! use portcullis_sdk::{Context, Decision, Phase, Policy, Request, export_policy};
//!
//! /// Refuses requests that lack a configured header.
//! struct RequireHeader {
//!     name: String,
//! }
//!
//! impl Policy for RequireHeader {
//!     const PHASES: &'static [Phase] = &[Phase::RequestHeaders];
//!
//!     fn configure(config: &str) -> Result<Self, String> {
//!         // Settings arrive as JSON; a real plugin would use serde_json.
//!         let name = config.trim().trim_matches(|c| c == '"' || c == '{' || c == '}');
//!         let name = name.rsplit(':').next().unwrap_or("").trim().trim_matches('"');
//!         if name.is_empty() {
//!             return Err("`header` is required".into());
//!         }
//!         Ok(Self { name: name.to_ascii_lowercase() })
//!     }
//!
//!     fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
//!         match request.header(&self.name) {
//!             Some(_) => Decision::allow(),
//!             None => Decision::deny_json(400, "missing-header", "a required header is missing"),
//!         }
//!     }
//! }
//!
//! export_policy!(RequireHeader);
//! ```
#![deny(missing_docs)]

extern crate self as portcullis_sdk;

mod authorization;
mod decision;
pub mod host;
pub mod query;

#[doc(hidden)]
pub use wit_bindgen;

/// The raw bindings generated from the `portcullis:policy` WIT package.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_raw",
        additional_derives: [PartialEq, Eq],
        default_bindings_module: "::portcullis_sdk::bindings",
        runtime_path: "::portcullis_sdk::wit_bindgen::rt",
    });
}

pub use authorization::Authorization;
pub use bindings::portcullis::policy::types::{
    Body, Context, Decision, Denial, Edit, Phase, Request, Response,
};

/// The version of the `portcullis:policy` WIT package this SDK targets.
pub const WIT_VERSION: &str = "0.1.0";

/// A policy plugin.
///
/// One value is built per plugin instance by [`Policy::configure`] and lives
/// across the requests that instance serves, so parse settings, compile
/// patterns and decode keys there, never per request.
pub trait Policy: Sized + Send + Sync + 'static {
    /// The phases this plugin implements. The gateway calls no others.
    const PHASES: &'static [Phase];

    /// The phases this configured instance implements; by default
    /// [`Policy::PHASES`]. Asked once at load, after `configure`.
    fn phases(&self) -> Vec<Phase> {
        Self::PHASES.to_vec()
    }

    /// Build the plugin from its route settings, given as JSON text. An
    /// error fails the gateway's config load with this message.
    fn configure(config: &str) -> Result<Self, String>;

    /// The `request-headers` and `request-body` phases. Lets the request
    /// through unchanged unless overridden.
    fn on_request(&self, phase: Phase, request: &Request, context: &Context) -> Decision {
        let _ = (phase, request, context);
        Decision::allow()
    }

    /// The `response-headers` and `response-body` phases. Lets the response
    /// through unchanged unless overridden.
    fn on_response(
        &self,
        phase: Phase,
        request: &Request,
        response: &Response,
        context: &Context,
    ) -> Decision {
        let _ = (phase, request, response, context);
        Decision::allow()
    }
}

/// Export a [`Policy`] implementation as the plugin's component exports.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        const _: () = {
            static CONFIGURED: ::std::sync::OnceLock<$policy> = ::std::sync::OnceLock::new();

            struct Exports;

            impl $crate::bindings::exports::portcullis::policy::policy::Guest for Exports {
                fn phases() -> ::std::vec::Vec<$crate::Phase> {
                    match CONFIGURED.get() {
                        Some(policy) => $crate::Policy::phases(policy),
                        None => <$policy as $crate::Policy>::PHASES.to_vec(),
                    }
                }

                fn configure(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    let policy = <$policy as $crate::Policy>::configure(&config)?;
                    CONFIGURED.set(policy).map_err(|_| {
                        ::std::string::String::from("plugin instance configured twice")
                    })
                }

                fn on_request(
                    phase: $crate::Phase,
                    request: &$crate::Request,
                    context: &$crate::Context,
                ) -> $crate::Decision {
                    match CONFIGURED.get() {
                        Some(policy) => $crate::Policy::on_request(policy, phase, request, context),
                        None => $crate::Decision::not_configured(),
                    }
                }

                fn on_response(
                    phase: $crate::Phase,
                    request: &$crate::Request,
                    response: &$crate::Response,
                    context: &$crate::Context,
                ) -> $crate::Decision {
                    match CONFIGURED.get() {
                        Some(policy) => {
                            $crate::Policy::on_response(policy, phase, request, response, context)
                        }
                        None => $crate::Decision::not_configured(),
                    }
                }
            }

            // The component exports exist only in the wasm build; natively the
            // crate still type-checks and its unit tests run.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export_raw!(Exports with_types_in $crate::bindings);
            #[cfg(not(target_arch = "wasm32"))]
            #[used]
            static NATIVE_EXPORTS: (
                fn() -> ::std::vec::Vec<$crate::Phase>,
                fn(::std::string::String) -> ::std::result::Result<(), ::std::string::String>,
                fn($crate::Phase, &$crate::Request, &$crate::Context) -> $crate::Decision,
                fn(
                    $crate::Phase,
                    &$crate::Request,
                    &$crate::Response,
                    &$crate::Context,
                ) -> $crate::Decision,
            ) = {
                use $crate::bindings::exports::portcullis::policy::policy::Guest;
                (
                    Exports::phases,
                    Exports::configure,
                    Exports::on_request,
                    Exports::on_response,
                )
            };
        };
    };
}
