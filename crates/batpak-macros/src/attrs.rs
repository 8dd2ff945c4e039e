//! Parsing and range checks for `#[batpak(category = .., type_id = .., version = ..)]`.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{DeriveInput, Expr, ExprLit, Lit};

/// Largest category value (4 bits).
const MAX_CATEGORY: u64 = 0xF;
/// Categories the store keeps for its own markers.
const RESERVED_CATEGORIES: [u64; 2] = [0x0, 0xD];
/// Largest type id (12 bits).
const MAX_TYPE_ID: u64 = 0xFFF;

/// The checked values of a payload type's `#[batpak(..)]` attributes.
pub(crate) struct PayloadAttrs {
    pub(crate) category: u8,
    pub(crate) type_id: u16,
    pub(crate) version: u16,
}

/// One key as written, with the span used for error messages.
struct Seen {
    value: u64,
    span: Span,
}

#[derive(Default)]
struct Collected {
    category: Option<Seen>,
    type_id: Option<Seen>,
    version: Option<Seen>,
    any_attr: bool,
}

impl PayloadAttrs {
    pub(crate) fn parse(input: &DeriveInput) -> syn::Result<Self> {
        let mut got = Collected::default();
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("batpak")) {
            got.any_attr = true;
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let slot = match key.as_str() {
                    "category" => &mut got.category,
                    "type_id" => &mut got.type_id,
                    "version" => &mut got.version,
                    _ => {
                        return Err(meta.error(format!(
                            "unknown key `{}` in #[batpak(..)]; expected `category`, `type_id` or `version`",
                            path_text(&meta.path)
                        )))
                    }
                };
                if slot.is_some() {
                    return Err(meta.error(format!("duplicate key `{key}` in #[batpak(..)]")));
                }
                let expr: Expr = meta.value()?.parse()?;
                *slot = Some(int_literal(&key, &expr)?);
                Ok(())
            })?;
        }
        if !got.any_attr {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(EventPayload)] needs an attribute #[batpak(category = .., type_id = ..)]",
            ));
        }
        let category = got.category.ok_or_else(|| missing(input, "category"))?;
        let type_id = got.type_id.ok_or_else(|| missing(input, "type_id"))?;
        Ok(Self {
            category: check_category(&category)?,
            type_id: check_type_id(&type_id)?,
            version: match got.version {
                Some(v) => check_version(&v)?,
                None => 1,
            },
        })
    }
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn missing(input: &DeriveInput, key: &str) -> syn::Error {
    syn::Error::new(
        input.ident.span(),
        format!("missing `{key}` in #[batpak(..)]: an event payload needs both `category` and `type_id`"),
    )
}

fn int_literal(key: &str, expr: &Expr) -> syn::Result<Seen> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => {
            let value = lit
                .base10_parse::<u64>()
                .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` is too large")))?;
            Ok(Seen {
                value,
                span: lit.span(),
            })
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` must be a non-negative integer literal, such as `{key} = 1`"),
        )),
    }
}

fn check_category(seen: &Seen) -> syn::Result<u8> {
    if seen.value > MAX_CATEGORY {
        return Err(syn::Error::new(
            seen.span,
            format!(
                "category {:#x} does not fit in 4 bits (largest is 0xF)",
                seen.value
            ),
        ));
    }
    if RESERVED_CATEGORIES.contains(&seen.value) {
        return Err(syn::Error::new(
            seen.span,
            format!(
                "category {:#x} is reserved for the store's own events (0x0 system, 0xD effect); use 0x1..=0xC, 0xE or 0xF",
                seen.value
            ),
        ));
    }
    u8::try_from(seen.value).map_err(|_| syn::Error::new(seen.span, "category out of range"))
}

fn check_type_id(seen: &Seen) -> syn::Result<u16> {
    if seen.value > MAX_TYPE_ID {
        return Err(syn::Error::new(
            seen.span,
            format!(
                "type_id {:#x} does not fit in 12 bits (largest is 0xFFF)",
                seen.value
            ),
        ));
    }
    u16::try_from(seen.value).map_err(|_| syn::Error::new(seen.span, "type_id out of range"))
}

fn check_version(seen: &Seen) -> syn::Result<u16> {
    if seen.value == 0 {
        return Err(syn::Error::new(
            seen.span,
            "version 0 is not allowed: payload versions start at 1",
        ));
    }
    u16::try_from(seen.value).map_err(|_| {
        syn::Error::new(
            seen.span,
            format!(
                "version {} does not fit in a u16 (largest is 65535)",
                seen.value
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn parse(attrs: &str) -> syn::Result<PayloadAttrs> {
        let input: DeriveInput = syn::parse_str(&format!("{attrs} struct P {{ n: u8 }}")).unwrap();
        PayloadAttrs::parse(&input)
    }

    fn values(attrs: &str) -> (u8, u16, u16) {
        let a = parse(attrs).unwrap();
        (a.category, a.type_id, a.version)
    }

    fn error(attrs: &str) -> String {
        match parse(attrs) {
            Ok(_) => panic!("{attrs} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_every_boundary_value() {
        assert_eq!(values("#[batpak(category = 0x1, type_id = 0)]"), (1, 0, 1));
        assert_eq!(
            values("#[batpak(category = 0xC, type_id = 1)]"),
            (0xC, 1, 1)
        );
        assert_eq!(
            values("#[batpak(category = 0xE, type_id = 1)]"),
            (0xE, 1, 1)
        );
        assert_eq!(
            values("#[batpak(category = 15, type_id = 4095, version = 65535)]"),
            (0xF, 0xFFF, 65535)
        );
        assert_eq!(
            values("#[batpak(version = 1u16)] #[batpak(type_id = 0x00a, category = 0xEu8)]"),
            (0xE, 0xA, 1)
        );
    }

    #[test]
    fn rejects_each_boundary_just_outside() {
        assert!(error("#[batpak(category = 0, type_id = 1)]").contains("reserved"));
        assert!(error("#[batpak(category = 13, type_id = 1)]").contains("reserved"));
        assert!(error("#[batpak(category = 16, type_id = 1)]").contains("4 bits"));
        assert!(error("#[batpak(category = 0xE, type_id = 4096)]").contains("12 bits"));
        assert!(error("#[batpak(category = 0xE, type_id = 1, version = 0)]").contains("start at 1"));
        assert!(error("#[batpak(category = 0xE, type_id = 1, version = 65536)]").contains("u16"));
        assert!(
            error("#[batpak(category = 0xE, type_id = 99999999999999999999999)]")
                .contains("too large")
        );
    }

    #[test]
    fn rejects_missing_unknown_duplicate_and_non_literal_keys() {
        assert!(error("#[derive(Debug)]").contains("needs an attribute"));
        assert!(error("#[batpak(type_id = 1)]").contains("missing `category`"));
        assert!(error("#[batpak(category = 0xE)]").contains("missing `type_id`"));
        assert!(error("#[batpak(category = 0xE, type_id = 1, kind = 2)]")
            .contains("unknown key `kind`"));
        assert!(error("#[batpak(category = 0xE, type_id = 1, type_id = 2)]")
            .contains("duplicate key `type_id`"));
        assert!(
            error("#[batpak(category = 0xE, type_id = 1, version = 1, version = 1)]")
                .contains("duplicate key `version`")
        );
        assert!(error("#[batpak(category = 0xE, type_id = CONST)]").contains("integer literal"));
    }
}
