//! The attribute's arguments: `ttl = .., max_entries = .., validate = ..,
//! on_release = .., crate = ..`, parsed as Rust syntax into spanned values.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Lit, Meta, Path, Token, UnOp};

use crate::duration;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    Data,
    Resource,
}

impl Macro {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Macro::Data => "cache_data",
            Macro::Resource => "cache_resource",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Macro::Data => &[TTL, MAX_ENTRIES, PERSIST, NAME, METHOD, CRATE],
            Macro::Resource => &[TTL, MAX_ENTRIES, VALIDATE, ON_RELEASE, NAME, METHOD, CRATE],
        }
    }
}

const TTL: &str = "ttl";
const MAX_ENTRIES: &str = "max_entries";
const VALIDATE: &str = "validate";
const ON_RELEASE: &str = "on_release";
const CRATE: &str = "crate";
const PERSIST: &str = "persist";
const NAME: &str = "name";
const METHOD: &str = "method";

/// A persistent tier behind memory.
pub(crate) enum Persist {
    Disk,
    Redis,
    /// Redis when a Redis URL is configured, else the disk; chosen at first use.
    Auto,
    /// An expression evaluating to a `Persist` or `Option<Persist>`, evaluated
    /// once at first use.
    Expr(Expr),
}

/// A `ttl`, resolved as far as the macro can.
pub(crate) enum Ttl {
    /// Known at compile time.
    Nanos(u128),
    /// A `Duration` expression, evaluated when the cache is built.
    Expr(Expr),
}

/// The parsed attribute.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) ttl: Option<Ttl>,
    pub(crate) max_entries: Option<Expr>,
    pub(crate) validate: Option<Expr>,
    pub(crate) on_release: Option<Expr>,
    pub(crate) krate: Option<Path>,
    pub(crate) persist: Option<Persist>,
    /// Overrides `module_path!()::fn_name` as the function's identity.
    pub(crate) name: Option<syn::LitStr>,
    /// `method`: an associated function inside an `impl` even though it
    /// mentions neither `self` nor `Self`.
    pub(crate) method: bool,
}

/// Parses the attribute, pushing every problem found into `errors`.
pub(crate) fn parse(which: Macro, tokens: TokenStream, errors: &mut Vec<syn::Error>) -> Args {
    let mut args = Args::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let key = meta.path().to_token_stream().to_string().replace(' ', "");
        let path_span = meta.path().span();
        if !which.keys().contains(&key.as_str()) {
            errors.push(unknown_key(which, &key, path_span));
            continue;
        }
        if seen.contains(&key) {
            errors.push(syn::Error::new(
                path_span,
                format!("`{key}` specified more than once"),
            ));
            continue;
        }
        seen.push(key.clone());
        if key == METHOD {
            // Marked either way: the intent is plain, and expanding as a
            // method keeps the one error from cascading.
            args.method = true;
            match meta {
                Meta::Path(_) => {}
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`method` is a flag: write `#[cache_data(method)]` on an associated function inside an `impl`",
                )),
            }
            continue;
        }
        let value = match meta {
            Meta::NameValue(name_value) => name_value.value,
            other => {
                errors.push(syn::Error::new(
                    other.span(),
                    format!("expected `{key} = ...`; {}", example(&key)),
                ));
                continue;
            }
        };
        match key.as_str() {
            TTL => args.ttl = ttl(value, errors),
            MAX_ENTRIES => args.max_entries = max_entries(value, errors),
            VALIDATE => args.validate = Some(value),
            PERSIST => args.persist = persist(value, errors),
            NAME => match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) if !text.value().trim().is_empty() => args.name = Some(text),
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`name` takes a non-empty string, e.g. `name = \"reports::thumbnail\"`",
                )),
            },
            ON_RELEASE => args.on_release = Some(value),
            CRATE => match value {
                Expr::Path(path) => args.krate = Some(path.path),
                other => errors.push(syn::Error::new(
                    other.span(),
                    "expected a path, e.g. `crate = ::cache_runtime`",
                )),
            },
            _ => unreachable!("every key in `Macro::keys` is handled"),
        }
    }
    args
}

fn unknown_key(which: Macro, key: &str, span: Span) -> syn::Error {
    let expected = which
        .keys()
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>();
    let mut message = format!(
        "unknown `{}` argument `{key}`; expected {}",
        which.name(),
        expected.join(", ")
    );
    if which == Macro::Resource && key == PERSIST {
        message = "`persist` is a `cache_data` argument: a resource is a live object (a connection, a model) that \
                   cannot be written to disk or Redis; use `#[cache_data(persist = ..)]` for data"
            .to_string();
    }
    if which == Macro::Data && (key == VALIDATE || key == ON_RELEASE) {
        message = format!(
            "`{key}` is a `cache_resource` argument: `cache_data` hands out copies, so there is no shared value to {}; use `#[cache_resource({key} = ...)]`",
            if key == VALIDATE {
                "validate"
            } else {
                "release"
            }
        );
    }
    if key == "max_size" || key == "size" || key == "capacity" {
        message.push_str("; to bound the number of entries use `max_entries`");
    }
    if key.starts_with("ttl_") || key == "time" || key == "expires" {
        message.push_str("; write the duration as `ttl = \"10m\"` or `ttl = 600`");
    }
    syn::Error::new(span, message)
}

fn example(key: &str) -> &'static str {
    match key {
        TTL => "e.g. `ttl = \"10m\"`, `ttl = 600` or `ttl = Duration::from_secs(600)`",
        MAX_ENTRIES => "e.g. `max_entries = 1000`",
        VALIDATE => "e.g. `validate = is_alive` where `fn is_alive(value: &T) -> bool`",
        ON_RELEASE => "e.g. `on_release = close` where `fn close(value: &T)`",
        PERSIST => "e.g. `persist = \"disk\"`, `persist = \"redis\"` or `persist = \"auto\"`",
        NAME => "e.g. `name = \"reports::thumbnail\"`",
        _ => "e.g. `crate = ::cache_runtime`",
    }
}

fn ttl(value: Expr, errors: &mut Vec<syn::Error>) -> Option<Ttl> {
    const ZERO: &str = "a `ttl` of zero would expire every value as soon as it is stored; remove the attribute to call the function uncached";
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match duration::parse(&text.value()) {
            Ok(0) => errors.push(syn::Error::new(text.span(), ZERO)),
            Ok(nanos) => return Some(Ttl::Nanos(nanos)),
            Err(message) => errors.push(syn::Error::new(text.span(), format!("invalid `ttl`: {message}"))),
        },
        // `-5` reaches us as one negative literal, not as `Expr::Unary`.
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) if int.base10_digits().starts_with('-') => {
            errors.push(syn::Error::new(int.span(), "`ttl` cannot be negative"));
        }
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. })
            if float.base10_digits().starts_with('-') =>
        {
            errors.push(syn::Error::new(float.span(), "`ttl` cannot be negative"));
        }
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => match int.base10_parse::<u64>() {
            Ok(0) => errors.push(syn::Error::new(int.span(), ZERO)),
            Ok(secs) => return Some(Ttl::Nanos(u128::from(secs) * 1_000_000_000)),
            Err(error) => errors.push(error),
        },
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. }) => match float.base10_parse::<f64>() {
            Ok(secs) if secs > 0.0 && secs.is_finite() && secs < 1e12 => {
                return Some(Ttl::Nanos((secs * 1e9).round() as u128));
            }
            Ok(_) => errors.push(syn::Error::new(float.span(), ZERO)),
            Err(error) => errors.push(error),
        },
        Expr::Lit(other) => errors.push(syn::Error::new(
            other.span(),
            "`ttl` takes seconds (`ttl = 600`), a duration string (`ttl = \"10m\"`) or a `Duration` expression",
        )),
        Expr::Unary(ExprUnary { op: UnOp::Neg(minus), .. }) => {
            errors.push(syn::Error::new(minus.span(), "`ttl` cannot be negative"));
        }
        other => return Some(Ttl::Expr(other)),
    }
    None
}

fn max_entries(value: Expr, errors: &mut Vec<syn::Error>) -> Option<Expr> {
    match &value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if int.base10_digits().starts_with('-') => errors.push(syn::Error::new(
            int.span(),
            "`max_entries` cannot be negative",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u64>() {
            Ok(0) => errors.push(syn::Error::new(
                int.span(),
                "`max_entries` must be at least 1; remove it for an unbounded cache",
            )),
            Ok(_) => return Some(value),
            Err(error) => errors.push(error),
        },
        Expr::Lit(other) => errors.push(syn::Error::new(
            other.span(),
            "`max_entries` takes a whole number, e.g. `max_entries = 1000`",
        )),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(minus),
            ..
        }) => {
            errors.push(syn::Error::new(
                minus.span(),
                "`max_entries` cannot be negative",
            ));
        }
        _ => return Some(value),
    }
    None
}

fn persist(value: Expr, errors: &mut Vec<syn::Error>) -> Option<Persist> {
    const EXPECTED: &str = "`persist` takes \"disk\" (a folder on this machine), \"redis\" (shared by several processes), \"auto\" (Redis when a Redis URL is configured, else the disk) or an expression evaluating to a `Persist` or `Option<Persist>`";
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match text.value().as_str() {
            "disk" => return Some(Persist::Disk),
            "redis" => return Some(Persist::Redis),
            "auto" => return Some(Persist::Auto),
            other => errors.push(syn::Error::new(text.span(), format!("unknown `persist` tier \"{other}\"; {EXPECTED}"))),
        },
        Expr::Lit(ExprLit { lit: Lit::Bool(flag), .. }) => errors.push(syn::Error::new(
            flag.span(),
            format!("{EXPECTED}; Streamlit's `persist=True` is `persist = \"disk\"`, and `False` is no `persist` at all"),
        )),
        Expr::Lit(other) => errors.push(syn::Error::new(other.span(), EXPECTED)),
        other => return Some(Persist::Expr(other)),
    }
    None
}
