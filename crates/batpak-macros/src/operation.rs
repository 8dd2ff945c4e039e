//! `#[operation(...)]`: a syncbat operation declared on its handler function.
//!
//! Every rule syncbat checks when an operation is registered is checked here
//! at compile time, each error on the key or value at fault.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Error, Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, MetaNameValue, ReturnType, Token,
};

const MAX_NAME: usize = 128;
const MAX_REF: usize = 256;
const CLASSES: [&str; 5] = ["Inspect", "Compute", "Persist", "Emit", "Control"];

/// The six row fields, in the order syncbat's `StaticEffectRow` declares them.
const ROW_FIELDS: [&str; 6] = [
    "reads_events",
    "appends_events",
    "queries_projections",
    "emits_receipts",
    "uses_host_controls",
    "requires_capabilities",
];

struct Text {
    value: String,
    span: Span,
}

struct List {
    items: Vec<Text>,
    span: Span,
}

#[derive(Default)]
struct Args {
    descriptor: Option<Ident>,
    register: Option<Ident>,
    name: Option<Text>,
    effect: Option<Ident>,
    input_schema: Option<Text>,
    output_schema: Option<Text>,
    receipt_kind: Option<Text>,
    title: Option<Text>,
    rows: [Option<List>; 6],
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse2(item)?;
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(attr)?;
    let args = Args::parse(pairs)?;
    check_signature(&func)?;
    let checked = args.check()?;
    Ok(emit(&func, &checked))
}

impl Args {
    fn parse(pairs: Punctuated<MetaNameValue, Token![,]>) -> syn::Result<Self> {
        let mut args = Args::default();
        for pair in pairs {
            let key = pair.path.get_ident().ok_or_else(|| {
                Error::new(pair.path.span(), "expected a key such as `name = \"...\"`")
            })?;
            let k = key.to_string();
            let dup = || {
                Error::new(
                    key.span(),
                    format!("duplicate key `{k}` in #[operation(..)]"),
                )
            };
            match k.as_str() {
                "descriptor" | "register" | "effect" => {
                    let ident = ident_value(&k, &pair.value)?;
                    let slot = match k.as_str() {
                        "descriptor" => &mut args.descriptor,
                        "register" => &mut args.register,
                        _ => &mut args.effect,
                    };
                    if slot.is_some() {
                        return Err(dup());
                    }
                    *slot = Some(ident);
                }
                "name" | "input_schema" | "output_schema" | "receipt_kind" | "title" => {
                    let text = str_value(&k, &pair.value)?;
                    let slot = match k.as_str() {
                        "name" => &mut args.name,
                        "input_schema" => &mut args.input_schema,
                        "output_schema" => &mut args.output_schema,
                        "receipt_kind" => &mut args.receipt_kind,
                        _ => &mut args.title,
                    };
                    if slot.is_some() {
                        return Err(dup());
                    }
                    *slot = Some(text);
                }
                other => {
                    let Some(i) = ROW_FIELDS.iter().position(|f| *f == other) else {
                        return Err(Error::new(
                            key.span(),
                            format!(
                                "unknown key `{other}` in #[operation(..)]; expected descriptor, register, name, \
                                 effect, input_schema, output_schema, receipt_kind, title, {}",
                                ROW_FIELDS.join(", ")
                            ),
                        ));
                    };
                    if args.rows[i].is_some() {
                        return Err(dup());
                    }
                    args.rows[i] = Some(list_value(&k, &pair.value)?);
                }
            }
        }
        Ok(args)
    }

    fn check(self) -> syn::Result<Checked> {
        let missing = |k: &str| {
            Error::new(
                Span::call_site(),
                format!("#[operation(..)] is missing the required key `{k}`"),
            )
        };
        let descriptor = self.descriptor.ok_or_else(|| missing("descriptor"))?;
        let name = self.name.ok_or_else(|| missing("name"))?;
        let effect = self.effect.ok_or_else(|| missing("effect"))?;
        let input_schema = self.input_schema.ok_or_else(|| missing("input_schema"))?;
        let output_schema = self.output_schema.ok_or_else(|| missing("output_schema"))?;
        let receipt_kind = self.receipt_kind.ok_or_else(|| missing("receipt_kind"))?;

        let class = effect.to_string();
        if !CLASSES.contains(&class.as_str()) {
            return Err(Error::new(
                effect.span(),
                format!(
                    "unknown effect class `{class}`; expected one of {}",
                    CLASSES.join(", ")
                ),
            ));
        }
        token(&name, MAX_NAME, "operation name")?;
        token(&input_schema, MAX_REF, "input_schema")?;
        token(&output_schema, MAX_REF, "output_schema")?;
        token(&receipt_kind, MAX_REF, "receipt_kind")?;
        if let Some(title) = &self.title {
            if title.value.is_empty()
                || title.value.len() > MAX_REF
                || title.value.chars().any(char::is_control)
            {
                return Err(Error::new(
                    title.span,
                    "title must be 1 to 256 bytes without control characters",
                ));
            }
        }
        for (i, list) in self.rows.iter().enumerate() {
            let Some(list) = list else { continue };
            for (n, item) in list.items.iter().enumerate() {
                token(item, MAX_REF, ROW_FIELDS[i])?;
                if i < 2 && !is_event_target(&item.value) {
                    return Err(Error::new(
                        item.span,
                        format!(
                            "{} targets are event kinds written evt.%04x (lowercase hex of the raw kind, e.g. \"evt.e001\"), not {:?}",
                            ROW_FIELDS[i], item.value
                        ),
                    ));
                }
                if list.items[..n].iter().any(|t| t.value == item.value) {
                    return Err(Error::new(
                        item.span,
                        format!("{:?} is declared twice in {}", item.value, ROW_FIELDS[i]),
                    ));
                }
            }
        }
        check_class(&class, &effect, &self.rows, &receipt_kind)?;
        Ok(Checked {
            descriptor,
            register: self.register,
            name,
            effect,
            input_schema,
            output_schema,
            receipt_kind,
            title: self.title,
            rows: self.rows,
        })
    }
}

struct Checked {
    descriptor: Ident,
    register: Option<Ident>,
    name: Text,
    effect: Ident,
    input_schema: Text,
    output_schema: Text,
    receipt_kind: Text,
    title: Option<Text>,
    rows: [Option<List>; 6],
}

fn check_class(
    class: &str,
    effect: &Ident,
    rows: &[Option<List>; 6],
    receipt_kind: &Text,
) -> syn::Result<()> {
    let has = |i: usize| rows[i].as_ref().is_some_and(|l| !l.items.is_empty());
    let forbidden: &[usize] = match class {
        "Inspect" => &[1, 3, 4],
        "Compute" => &[0, 1, 2, 3, 4, 5],
        "Persist" => &[3, 4],
        "Emit" => &[1, 4],
        _ => &[],
    };
    if let Some(&i) = forbidden.iter().find(|i| has(**i)) {
        let span = rows[i].as_ref().map_or(effect.span(), |l| l.span);
        return Err(Error::new(
            span,
            format!(
                "{} operation cannot declare {}",
                article(class),
                ROW_FIELDS[i]
            ),
        ));
    }
    let required = match class {
        "Persist" => Some(1),
        "Control" => Some(4),
        _ => None,
    };
    if let Some(i) = required.filter(|i| !has(*i)) {
        return Err(Error::new(
            effect.span(),
            format!(
                "{} operation must declare at least one of {}",
                article(class),
                ROW_FIELDS[i]
            ),
        ));
    }
    if class == "Emit" {
        let own = rows[3]
            .as_ref()
            .is_some_and(|l| l.items.iter().any(|t| t.value == receipt_kind.value));
        if !own {
            return Err(Error::new(
                effect.span(),
                format!(
                    "an emit operation must list its receipt kind {:?} in emits_receipts",
                    receipt_kind.value
                ),
            ));
        }
    }
    Ok(())
}

/// "an inspect", "a compute", ...
fn article(class: &str) -> String {
    let lower = class.to_lowercase();
    if lower.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {lower}")
    } else {
        format!("a {lower}")
    }
}

fn check_signature(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if let Some(t) = &sig.asyncness {
        return Err(Error::new(
            t.span(),
            "an operation handler cannot be async: syncbat runs handlers synchronously",
        ));
    }
    if let Some(t) = &sig.unsafety {
        return Err(Error::new(
            t.span(),
            "an operation handler cannot be unsafe",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(Error::new(
            abi.span(),
            "an operation handler cannot have an explicit ABI",
        ));
    }
    if let Some(t) = &sig.constness {
        return Err(Error::new(t.span(), "an operation handler cannot be const"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            "an operation handler cannot be generic: it must be a plain fn(&[u8], &mut Ctx<'_>) -> HandlerResult",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(Error::new(
            v.span(),
            "an operation handler cannot be variadic",
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(Error::new(
            r.span(),
            "an operation handler must be a free function, not a method",
        ));
    }
    if sig.inputs.len() != 2 {
        return Err(Error::new(
            sig.paren_token.span.join(),
            format!(
                "an operation handler takes two arguments (input: &[u8], cx: &mut Ctx<'_>), not {}",
                sig.inputs.len()
            ),
        ));
    }
    if let ReturnType::Default = sig.output {
        return Err(Error::new(
            sig.ident.span(),
            "an operation handler must return HandlerResult",
        ));
    }
    Ok(())
}

fn emit(func: &ItemFn, c: &Checked) -> TokenStream {
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let descriptor = &c.descriptor;
    let name = lit(&c.name);
    let effect = &c.effect;
    let input_schema = lit(&c.input_schema);
    let output_schema = lit(&c.output_schema);
    let receipt_kind = lit(&c.receipt_kind);
    let title = match &c.title {
        Some(t) => {
            let t = lit(t);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::None),
    };
    let fields = ROW_FIELDS.iter().map(|f| format_ident!("{}", f));
    let lists = c.rows.iter().map(|l| {
        let items = l.iter().flat_map(|l| l.items.iter()).map(lit);
        quote!(&[#(#items),*])
    });
    let desc_doc = format!("The descriptor of operation `{}`.", c.name.value);
    // The coercion is where a wrong argument or return type is reported, on the signature.
    let sig_span = func.sig.span();
    let coerce = quote_spanned! {sig_span=>
        const _: ::syncbat::HandlerFn = #ident;
    };
    let register = c.register.as_ref().map(|reg| {
        let reg_doc = format!(
            "Registers operation `{}` with its handler `{}`.",
            c.name.value, ident
        );
        quote! {
            #[doc = #reg_doc]
            #vis fn #reg(
                builder: &mut ::syncbat::CoreBuilder,
            ) -> ::core::result::Result<(), ::syncbat::BuildError> {
                builder.register(#descriptor, #ident as ::syncbat::HandlerFn)?;
                ::core::result::Result::Ok(())
            }
        }
    });
    quote! {
        #func

        #[doc = #desc_doc]
        #vis const #descriptor: ::syncbat::OperationDescriptor =
            ::syncbat::OperationDescriptor::from_static(::syncbat::StaticDescriptor {
                name: #name,
                effect: ::syncbat::EffectClass::#effect,
                input_schema: #input_schema,
                output_schema: #output_schema,
                receipt_kind: #receipt_kind,
                title: #title,
                row: ::syncbat::StaticEffectRow {
                    #(#fields: #lists,)*
                },
            });

        #coerce

        #register
    }
}

fn lit(t: &Text) -> LitStr {
    LitStr::new(&t.value, t.span)
}

fn ident_value(key: &str, value: &Expr) -> syn::Result<Ident> {
    if let Expr::Path(p) = value {
        if let Some(i) = p.path.get_ident() {
            return Ok(i.clone());
        }
    }
    Err(Error::new(
        value.span(),
        format!(
            "`{key}` takes an identifier, such as `{key} = {}`",
            example_ident(key)
        ),
    ))
}

fn example_ident(key: &str) -> &'static str {
    match key {
        "descriptor" => "DEPOSIT",
        "register" => "register_deposit",
        _ => "Persist",
    }
}

fn str_value(key: &str, value: &Expr) -> syn::Result<Text> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Text {
            value: s.value(),
            span: s.span(),
        }),
        other => Err(Error::new(
            other.span(),
            format!("`{key}` takes a string literal"),
        )),
    }
}

fn list_value(key: &str, value: &Expr) -> syn::Result<List> {
    let Expr::Array(array) = value else {
        return Err(Error::new(
            value.span(),
            format!("`{key}` takes an array of string literals, such as [\"...\"]"),
        ));
    };
    let items = array
        .elems
        .iter()
        .map(|e| str_value(key, e))
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(List {
        items,
        span: array.span(),
    })
}

/// The dotted-token grammar: 1 to `max` bytes of `[A-Za-z0-9._-]`, no
/// leading or trailing dot, no empty segment.
fn token(t: &Text, max: usize, what: &str) -> syn::Result<()> {
    let v = t.value.as_bytes();
    let problem = if v.is_empty() {
        Some("is empty".to_owned())
    } else if v.len() > max {
        Some(format!("is {} bytes, over the limit of {max}", v.len()))
    } else if let Some(b) = v
        .iter()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
    {
        Some(format!("has byte {b:#04x}; allowed are A-Z a-z 0-9 . _ -"))
    } else if v[0] == b'.' {
        Some("starts with '.'".to_owned())
    } else if v[v.len() - 1] == b'.' {
        Some("ends with '.'".to_owned())
    } else if v.windows(2).any(|w| w == b"..") {
        Some("has an empty segment (\"..\")".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::new(t.span, format!("{what} {:?} {p}", t.value))),
        None => Ok(()),
    }
}

fn is_event_target(v: &str) -> bool {
    v.strip_prefix("evt.")
        .is_some_and(|h| h.len() == 4 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn run(attr: &str, item: &str) -> Result<String, String> {
        expand(attr.parse().unwrap(), item.parse().unwrap())
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    const F: &str = "fn h(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { Ok(vec![]) }";
    const BASE: &str = r#"descriptor = D, name = "a.b", input_schema = "i", output_schema = "o", receipt_kind = "r""#;

    fn with(extra: &str) -> Result<String, String> {
        run(&format!("{BASE}, {extra}"), F)
    }

    #[test]
    fn accepts_each_class_with_a_valid_row() {
        assert!(with("effect = Compute").is_ok());
        assert!(with(
            r#"effect = Inspect, reads_events = ["evt.e001"], queries_projections = ["p"]"#
        )
        .is_ok());
        assert!(with(
            r#"effect = Persist, appends_events = ["evt.e001"], requires_capabilities = ["w"]"#
        )
        .is_ok());
        assert!(with(r#"effect = Emit, emits_receipts = ["r"]"#).is_ok());
        assert!(with(
            r#"effect = Control, uses_host_controls = ["host.stop"], appends_events = ["evt.e001"]"#
        )
        .is_ok());
        let out = with(r#"effect = Compute, register = reg, title = "T""#).unwrap();
        assert!(out.contains("fn reg"));
        assert!(out.contains("Some (\"T\")"));
    }

    #[test]
    fn refuses_what_registration_would_refuse() {
        let cases = [
            (
                r#"effect = Inspect, appends_events = ["evt.e001"]"#,
                "cannot declare appends_events",
            ),
            (
                r#"effect = Compute, requires_capabilities = ["c"]"#,
                "cannot declare requires_capabilities",
            ),
            (
                "effect = Persist",
                "must declare at least one of appends_events",
            ),
            (
                r#"effect = Persist, appends_events = ["evt.e001"], emits_receipts = ["r"]"#,
                "cannot declare emits_receipts",
            ),
            (
                r#"effect = Emit, emits_receipts = ["x"]"#,
                "must list its receipt kind",
            ),
            (
                r#"effect = Emit, emits_receipts = ["r"], uses_host_controls = ["h"]"#,
                "cannot declare uses_host_controls",
            ),
            (
                "effect = Control",
                "must declare at least one of uses_host_controls",
            ),
            ("effect = Mutate", "unknown effect class `Mutate`"),
            (
                r#"effect = Persist, appends_events = ["evt.E001"]"#,
                "evt.%04x",
            ),
            (
                r#"effect = Inspect, reads_events = ["evt.e001", "evt.e001"]"#,
                "declared twice",
            ),
            (
                r#"effect = Inspect, queries_projections = ["a b"]"#,
                "has byte 0x20",
            ),
            (r#"effect = Compute, title = """#, "title must be"),
        ];
        for (extra, expected) in cases {
            let err = with(extra).unwrap_err();
            assert!(err.contains(expected), "{extra}: {err}");
        }
        let err = run(r#"descriptor = D, name = "a..b", effect = Compute, input_schema = "i", output_schema = "o", receipt_kind = "r""#, F).unwrap_err();
        assert!(err.contains("empty segment"), "{err}");
        let long = "a".repeat(129);
        let err = run(&format!(r#"descriptor = D, name = "{long}", effect = Compute, input_schema = "i", output_schema = "o", receipt_kind = "r""#), F).unwrap_err();
        assert!(err.contains("over the limit of 128"), "{err}");
    }

    #[test]
    fn refuses_bad_keys() {
        assert!(run(r#"name = "a", effect = Compute, input_schema = "i", output_schema = "o", receipt_kind = "r""#, F)
            .unwrap_err()
            .contains("missing the required key `descriptor`"));
        assert!(with("effect = Compute, colour = \"red\"")
            .unwrap_err()
            .contains("unknown key `colour`"));
        assert!(with("effect = Compute, effect = Inspect")
            .unwrap_err()
            .contains("duplicate key `effect`"));
        assert!(with("effect = \"Compute\"")
            .unwrap_err()
            .contains("takes an identifier"));
        assert!(run(r#"descriptor = D, name = a, effect = Compute"#, F)
            .unwrap_err()
            .contains("string literal"));
        assert!(with(r#"effect = Inspect, reads_events = "evt.e001""#)
            .unwrap_err()
            .contains("array"));
    }

    #[test]
    fn refuses_bad_targets() {
        let base = format!("{BASE}, effect = Compute");
        for (item, expected) in [
            (
                "async fn h(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { Ok(Vec::new()) }",
                "cannot be async",
            ),
            (
                "unsafe fn h(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { Ok(Vec::new()) }",
                "cannot be unsafe",
            ),
            (
                "fn h<T>(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { Ok(Vec::new()) }",
                "cannot be generic",
            ),
            (
                "extern \"C\" fn h(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { Ok(Vec::new()) }",
                "explicit ABI",
            ),
            (
                "fn h(i: &[u8]) -> HandlerResult { Ok(Vec::new()) }",
                "takes two arguments",
            ),
            (
                "fn h(i: &[u8], cx: &mut Ctx<'_>) { }",
                "must return HandlerResult",
            ),
            (
                "const fn h(i: &[u8], cx: &mut Ctx<'_>) -> HandlerResult { todo!() }",
                "cannot be const",
            ),
        ] {
            let err = run(&base, item).unwrap_err();
            assert!(err.contains(expected), "{item}: {err}");
        }
    }
}
