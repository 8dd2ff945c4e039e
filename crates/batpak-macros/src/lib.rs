//! Macros for `batpak` and `syncbat`: `#[derive(EventPayload)]` and `#[operation]`.
//!
//! Derive macros for `batpak`. Use them through the `batpak` crate, which
//! re-exports them: the generated code refers to `::batpak::…` paths, so a
//! program needs no dependency on this crate, on `inventory` or on `rmpv`.
//!
//! ```
//! use batpak::prelude::*;
//!
//! #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
//! #[batpak(category = 0xE, type_id = 1)]
//! struct ThingHappened { id: u64, note: String }
//!
//! assert_eq!(ThingHappened::KIND, EventKind::custom(0xE, 1));
//! assert_eq!(ThingHappened::PAYLOAD_VERSION, 1);
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, DeriveInput, LitInt};

mod attrs;
mod operation;

use attrs::PayloadAttrs;

/// Derives `batpak::EventPayload` and registers the type in batpak's payload registry.
///
/// Attribute: `#[batpak(category = C, type_id = T, version = V)]`, in one
/// attribute or split over several, each key at most once:
///
/// - `category`: 4 bits, `0x1..=0xF` except `0xD` (`0x0` and `0xD` are the store's own);
/// - `type_id`: 12 bits, `0x000..=0xFFF`;
/// - `version`: the payload schema version, `1..=65535`, default `1`.
///
/// The type must implement `serde::Serialize` and `serde::Deserialize` and
/// have no generic parameters. Every misuse is a compile error pointing at the
/// offending key or type.
///
/// ```
/// use batpak::prelude::*;
///
/// #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// #[batpak(category = 0xE, type_id = 0x2A, version = 2)]
/// enum Door { Opened, Closed { by: String } }
/// # struct V1; impl Upcast for V1 { const KIND: EventKind = Door::KIND; const FROM: u16 = 1;
/// #     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> { Ok(v) } }
/// # batpak::register_upcast!(V1);
///
/// assert_eq!(Door::KIND.as_u16(), 0xE02A);
/// assert_eq!(Door::PAYLOAD_VERSION, 2);
/// let report = batpak::registry_report();
/// assert!(report.payloads().iter().any(|p| p.type_name.ends_with("Door") && p.version == 2));
/// ```
///
/// ```compile_fail
/// use batpak::prelude::*;
/// #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// #[batpak(category = 0xD, type_id = 1)] // reserved category
/// struct Effect;
/// ```
#[proc_macro_derive(EventPayload, attributes(batpak))]
pub fn derive_event_payload(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "EventPayload cannot be derived for a generic type: each registered payload \
             type must name exactly one event kind",
        ));
    }
    let attrs = PayloadAttrs::parse(input)?;
    let ident = &input.ident;
    let category = lit_u8(attrs.category);
    let type_id = lit_u16(attrs.type_id);
    let version = lit_u16(attrs.version);
    let ident_span = ident.span();

    // The serde bound is checked in a function of its own so that the error
    // points at the type rather than at generated code.
    let serde_check = quote_spanned! {ident_span=>
        fn __batpak_assert_serde<T>()
        where
            T: ::batpak::__private::serde::Serialize
                + ::batpak::__private::serde::de::DeserializeOwned,
        {
        }
        #[allow(dead_code)]
        fn __batpak_check_serde() {
            __batpak_assert_serde::<#ident>();
        }
    };

    Ok(quote! {
        #[automatically_derived]
        impl ::batpak::EventPayload for #ident {
            const KIND: ::batpak::EventKind = ::batpak::EventKind::custom(#category, #type_id);
            const PAYLOAD_VERSION: u16 = #version;
        }

        const _: () = {
            #serde_check

            ::batpak::__private::inventory::submit! {
                ::batpak::__private::PayloadRegistration::new(
                    ::batpak::EventKind::custom(#category, #type_id),
                    #version,
                    ::batpak::__private::type_name_of::<#ident>,
                    ::core::env!("CARGO_PKG_NAME"),
                    ::core::env!("CARGO_PKG_VERSION"),
                )
            }
        };
    })
}

fn lit_u8(value: u8) -> LitInt {
    LitInt::new(&format!("{value:#x}u8"), Span::call_site())
}

fn lit_u16(value: u16) -> LitInt {
    LitInt::new(&format!("{value:#x}u16"), Span::call_site())
}

/// Declares a syncbat operation on its handler function; use it as
/// `syncbat::operation`, which documents the keys with an example. The
/// generated code refers to `::syncbat::…` paths.
///
/// Emits the function unchanged, a `const` descriptor named by
/// `descriptor = ..`, and, with `register = ..`, a
/// `fn(&mut syncbat::CoreBuilder) -> Result<(), syncbat::BuildError>`.
/// A missing, unknown or repeated key, an effect class that is not one of
/// `Inspect`, `Compute`, `Persist`, `Emit`, `Control`, a row the class
/// forbids, a name or target that breaks the grammar, and a function that is
/// async, unsafe, generic, a method, or not
/// `fn(&[u8], &mut Ctx<'_>) -> HandlerResult`, are compile errors on the
/// offending tokens.
#[proc_macro_attribute]
pub fn operation(attr: TokenStream, item: TokenStream) -> TokenStream {
    operation::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
