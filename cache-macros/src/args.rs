//! The attribute's arguments: `ttl = .., max_entries = .., max_size = ..,
//! size_with = .., validate = ..,
//! on_release = .., hash_funcs(Type = path, ..), crate = ..`, parsed as Rust
//! syntax into spanned values.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprPath, ExprUnary, Lit, Meta, MetaList, Path, Token, Type, UnOp};

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
            Macro::Data => &[
                TTL,
                MAX_ENTRIES,
                MAX_SIZE,
                SIZE_WITH,
                REFRESH_MODE,
                MAX_STALE,
                SCOPE,
                SHOW_SPINNER,
                SHOW_TIME,
                PERSIST,
                HASH_FUNCS,
                NAME,
                METHOD,
                TRAIT_IMPL,
                GENERIC,
                FRONT,
                CRATE,
            ],
            Macro::Resource => &[
                TTL,
                MAX_ENTRIES,
                REFRESH_MODE,
                MAX_STALE,
                SCOPE,
                SHOW_SPINNER,
                SHOW_TIME,
                VALIDATE,
                ON_RELEASE,
                HASH_FUNCS,
                NAME,
                METHOD,
                TRAIT_IMPL,
                GENERIC,
                FRONT,
                CRATE,
            ],
        }
    }
}

const TTL: &str = "ttl";
const MAX_ENTRIES: &str = "max_entries";
const MAX_SIZE: &str = "max_size";
const SIZE_WITH: &str = "size_with";
const REFRESH_MODE: &str = "refresh_mode";
const MAX_STALE: &str = "max_stale";
const SCOPE: &str = "scope";
const SHOW_SPINNER: &str = "show_spinner";
const SHOW_TIME: &str = "show_time";
const VALIDATE: &str = "validate";
const ON_RELEASE: &str = "on_release";
const CRATE: &str = "crate";
const PERSIST: &str = "persist";
const NAME: &str = "name";
const METHOD: &str = "method";
const TRAIT_IMPL: &str = "trait_impl";
const GENERIC: &str = "generic";
const HASH_FUNCS: &str = "hash_funcs";
const FRONT: &str = "front";

/// One `hash_funcs` entry, `Type = path`: every key parameter of that type
/// (as written) is keyed by what `path(&arg)` returns.
#[derive(Clone)]
pub(crate) struct HashFunc {
    /// The type as written: a path such as `Connection`, `db::Connection` or
    /// `Frame<f64>`.
    pub(crate) ty: Path,
    /// The function; `None` when it was not a path (already reported): the
    /// parameters of `ty` are then left out of the key, so that mistake stays
    /// the only error.
    pub(crate) func: Option<ExprPath>,
}

/// The attribute's `hash_funcs(..)`.
#[derive(Clone, Default)]
pub(crate) struct HashFuncs {
    pub(crate) entries: Vec<HashFunc>,
    /// `hash_funcs` was there but could not be read (already reported): the
    /// expansion leaves every parameter no entry applies to out of the key
    /// rather than adding `Serialize` errors for types it may have named.
    pub(crate) malformed: bool,
}

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

/// `show_spinner = false` or `show_spinner = "text"` (`true` is the default).
pub(crate) enum SpinnerArg {
    Hidden,
    Text(syn::LitStr),
}

/// A `max_size`, resolved as far as the macro can.
pub(crate) enum MaxSize {
    /// Known at compile time.
    Bytes(u64),
    /// An integer expression, evaluated when the cache is built.
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
    /// `max_size`: bytes of values in memory.
    pub(crate) max_size: Option<MaxSize>,
    /// `size_with = path`: weighs a value for `max_size`.
    pub(crate) size_with: Option<ExprPath>,
    /// `refresh_mode = "background"`: stale values served while refreshed.
    pub(crate) background: bool,
    /// `max_stale`: how long past the `ttl` a value may be served.
    pub(crate) max_stale: Option<Ttl>,
    /// `scope = "session"`: entries kept per browser session.
    pub(crate) session: bool,
    /// `show_spinner`: `None` for the default text.
    pub(crate) spinner: Option<SpinnerArg>,
    /// `show_time = true`.
    pub(crate) show_time: bool,
    pub(crate) validate: Option<Expr>,
    pub(crate) on_release: Option<Expr>,
    pub(crate) krate: Option<Path>,
    pub(crate) persist: Option<Persist>,
    /// Overrides `module_path!()::fn_name` as the function's identity.
    pub(crate) name: Option<syn::LitStr>,
    /// `method`: an associated function inside an `impl` even though it
    /// mentions neither `self` nor `Self`.
    pub(crate) method: bool,
    /// `trait_impl`: a method of a trait impl, which can hold no items but
    /// the trait's (so no handle functions beside it).
    pub(crate) trait_impl: bool,
    /// `generic`: a method of a generic `impl` whose parameters it mentions
    /// (found without the flag when they are named like `T` or `K2`).
    pub(crate) generic: bool,
    /// `hash_funcs(Type = path, ..)`: how parameters of a type are keyed.
    pub(crate) hash_funcs: HashFuncs,
    /// `front = false`: no per-thread front table (for very large values).
    pub(crate) no_front: bool,
}

/// Parses the attribute, pushing every problem found into `errors`.
pub(crate) fn parse(which: Macro, tokens: TokenStream, errors: &mut Vec<syn::Error>) -> Args {
    let mut args = Args::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens.clone()) {
        Ok(metas) => metas,
        Err(error) => {
            // Whatever `hash_funcs` said is lost: keep the types it may have
            // named from adding `Serialize` errors to this one.
            args.hash_funcs.malformed = mentions_hash_funcs(&tokens);
            errors.push(error);
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    // Where each argument was written, for errors that involve two.
    let mut spans: Vec<(String, Span)> = Vec::new();
    for meta in metas {
        let key = meta.path().to_token_stream().to_string().replace(' ', "");
        let path_span = meta.path().span();
        if !which.keys().contains(&key.as_str()) {
            errors.push(unknown_key(which, &key, path_span));
            // `hash_func(..)`, `hash_with = ..`: probably meant to key some
            // parameters, whose types then need no `Serialize` error as well.
            args.hash_funcs.malformed |= key.starts_with("hash");
            continue;
        }
        if seen.contains(&key) {
            errors.push(syn::Error::new(
                path_span,
                format!("`{key}` specified more than once"),
            ));
            // The second list is ignored: do not key its types by value.
            args.hash_funcs.malformed |= key == HASH_FUNCS;
            continue;
        }
        seen.push(key.clone());
        spans.push((key.clone(), path_span));
        if let Some((flag, usage)) = flag(&key) {
            // Marked either way: the intent is plain, and expanding as
            // flagged keeps the one error from cascading.
            match key.as_str() {
                METHOD => args.method = true,
                TRAIT_IMPL => args.trait_impl = true,
                _ => args.generic = true,
            }
            match meta {
                Meta::Path(_) => {}
                other => errors.push(syn::Error::new(
                    other.span(),
                    format!(
                        "`{flag}` is a flag: write `#[{}({flag})]` {usage}",
                        which.name()
                    ),
                )),
            }
            continue;
        }
        if key == HASH_FUNCS {
            args.hash_funcs = hash_funcs(meta, errors);
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
            TTL => args.ttl = duration(TTL, value, errors),
            MAX_STALE => args.max_stale = duration(MAX_STALE, value, errors),
            REFRESH_MODE => match value {
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match text.value().as_str() {
                    "background" => args.background = true,
                    "foreground" => {}
                    other => errors.push(syn::Error::new(
                        text.span(),
                        format!("invalid `refresh_mode` \"{other}\"; expected \"foreground\" (the default: an expired value is recomputed while the caller waits) or \"background\" (it is served while it is refreshed behind)"),
                    )),
                },
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`refresh_mode` takes \"foreground\" or \"background\", e.g. `refresh_mode = \"background\"`",
                )),
            },
            SCOPE => match value {
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match text.value().as_str() {
                    "session" => args.session = true,
                    "global" => {}
                    other => errors.push(syn::Error::new(
                        text.span(),
                        format!("invalid `scope` \"{other}\"; expected \"global\" (the default: one cache shared by every caller) or \"session\" (entries kept per browser session)"),
                    )),
                },
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`scope` takes \"global\" or \"session\", e.g. `scope = \"session\"`",
                )),
            },
            SHOW_SPINNER => match value {
                Expr::Lit(ExprLit { lit: Lit::Bool(flag), .. }) => {
                    if !flag.value {
                        args.spinner = Some(SpinnerArg::Hidden);
                    }
                }
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) if !text.value().trim().is_empty() => {
                    args.spinner = Some(SpinnerArg::Text(text));
                }
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`show_spinner` takes `true` (the default text, \"Running `f(...)`.\"), `false` (no spinner) or the text to show, e.g. `show_spinner = \"Loading rows…\"`",
                )),
            },
            SHOW_TIME => match value {
                Expr::Lit(ExprLit { lit: Lit::Bool(flag), .. }) => args.show_time = flag.value,
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`show_time` takes `true` (the spinner shows the time elapsed) or `false`",
                )),
            },
            MAX_ENTRIES => args.max_entries = max_entries(value, errors),
            MAX_SIZE => args.max_size = max_size(value, errors),
            SIZE_WITH => match value {
                Expr::Path(path) => args.size_with = Some(path),
                other => errors.push(syn::Error::new(
                    other.span(),
                    format!("`size_with` takes the path of a function; {}", example(SIZE_WITH)),
                )),
            },
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
            FRONT => match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(flag),
                    ..
                }) => args.no_front = !flag.value,
                other => errors.push(syn::Error::new(
                    other.span(),
                    "`front` takes `true` or `false`: `front = false` keeps no per-thread copy of hot entries (for very large values)",
                )),
            },
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
    let span_of = |key: &str| spans.iter().find(|(k, _)| k == key).map(|(_, span)| *span);
    if let (Some(size), Some(_)) = (span_of(MAX_SIZE), span_of(MAX_ENTRIES)) {
        errors.push(syn::Error::new(
            size,
            "`max_size` and `max_entries` cannot be combined: a cache is bounded by one measure; \
             keep `max_size` to bound the bytes in memory, or `max_entries` to bound the count",
        ));
    }
    if let Some(mode) = span_of(REFRESH_MODE).filter(|_| args.background) {
        if span_of(TTL).is_none() {
            errors.push(syn::Error::new(
                mode,
                "`refresh_mode = \"background\"` needs a `ttl`: a value is served past its `ttl` while it is \
                 refreshed; add one, e.g. `ttl = \"5m\"`",
            ));
        }
        if let Some(persist) = span_of(PERSIST) {
            errors.push(syn::Error::new(
                persist,
                "`persist` cannot be combined with `refresh_mode = \"background\"` (as in Streamlit): a \
                 persistent record outlives the stale window; remove one of them",
            ));
        }
    }
    if let (Some(_), Some(persist)) = (span_of(SCOPE).filter(|_| args.session), span_of(PERSIST)) {
        errors.push(syn::Error::new(
            persist,
            "`persist` cannot be combined with `scope = \"session\"`: a persistent record outlives \
             the session (Streamlit lets sessions read each other's files); remove one of them",
        ));
    }
    if let Some(stale) = span_of(MAX_STALE).filter(|_| !args.background) {
        errors.push(syn::Error::new(
            stale,
            "`max_stale` is how long past its `ttl` a value is served while it is refreshed: it needs \
             `refresh_mode = \"background\"`",
        ));
    }
    args
}

/// A flag argument (`method`, `trait_impl`, `generic`) and where it goes.
fn flag(key: &str) -> Option<(&'static str, &'static str)> {
    match key {
        METHOD => Some((METHOD, "on an associated function inside an `impl`")),
        TRAIT_IMPL => Some((TRAIT_IMPL, "on a method of a trait impl")),
        GENERIC => Some((
            GENERIC,
            "on a method of a generic `impl` whose return or argument types mention its parameters",
        )),
        _ => None,
    }
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
    if which == Macro::Resource && (key == MAX_SIZE || key == SIZE_WITH) {
        message = format!(
            "`{key}` is a `cache_data` argument: a resource is shared, not copied, so it has no size to bound \
             (as in Streamlit); bound the number of resources with `max_entries`"
        );
    } else if key == "size" || key == "capacity" || key == "max_bytes" {
        message.push_str(if which == Macro::Data {
            "; bound the bytes in memory with `max_size = \"256MiB\"`, or the number of entries with `max_entries`"
        } else {
            "; to bound the number of entries use `max_entries`"
        });
    }
    if key.starts_with("ttl_") || key == "time" || key == "expires" {
        message.push_str("; write the duration as `ttl = \"10m\"` or `ttl = 600`");
    }
    if key == "hash_func" || key == "hash_fn" || key == "hash_fns" {
        message.push_str(
            "; to key the parameters of a type by a function write `hash_funcs(Type = path)`",
        );
    }
    if key == "hash_with" {
        message.push_str(
            "; `hash_with` goes on one parameter, `#[cache(hash_with = path)] conn: Connection`; \
             for every parameter of a type write `hash_funcs(Connection = path)`",
        );
    }
    syn::Error::new(span, message)
}

fn example(key: &str) -> &'static str {
    match key {
        TTL => "e.g. `ttl = \"10m\"`, `ttl = 600` or `ttl = Duration::from_secs(600)`",
        MAX_STALE => {
            "e.g. `max_stale = \"1h\"`, `max_stale = 600` or `max_stale = Duration::from_secs(600)`"
        }
        REFRESH_MODE => "e.g. `refresh_mode = \"background\"`",
        SCOPE => "e.g. `scope = \"session\"`",
        SHOW_SPINNER => "e.g. `show_spinner = \"Loading rows…\"` or `show_spinner = false`",
        SHOW_TIME => "e.g. `show_time = true`",
        MAX_ENTRIES => "e.g. `max_entries = 1000`",
        MAX_SIZE => "e.g. `max_size = \"256MiB\"` or `max_size = 1_000_000` (bytes)",
        SIZE_WITH => "e.g. `size_with = frame_bytes` where `fn frame_bytes(value: &T) -> usize`",
        VALIDATE => "e.g. `validate = is_alive` where `fn is_alive(value: &T) -> bool`",
        ON_RELEASE => "e.g. `on_release = close` where `fn close(value: &T)`",
        PERSIST => "e.g. `persist = \"disk\"`, `persist = \"redis\"` or `persist = \"auto\"`",
        NAME => "e.g. `name = \"reports::thumbnail\"`",
        FRONT => "e.g. `front = false`",
        HASH_FUNCS => {
            "e.g. `hash_funcs(Connection = conn_key)` where `fn conn_key(conn: &Connection) -> String`"
        }
        _ => "e.g. `crate = ::cache_runtime`",
    }
}

/// A duration argument (`ttl`, `max_stale`).
fn duration(name: &str, value: Expr, errors: &mut Vec<syn::Error>) -> Option<Ttl> {
    let zero = if name == TTL {
        "a `ttl` of zero would expire every value as soon as it is stored; remove the attribute to call the function uncached".to_owned()
    } else {
        format!("`{name}` must be more than zero; remove it for the default")
    };
    let negative = format!("`{name}` cannot be negative");
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => match duration::parse(&text.value()) {
            Ok(0) => errors.push(syn::Error::new(text.span(), zero)),
            Ok(nanos) => return Some(Ttl::Nanos(nanos)),
            Err(message) => errors.push(syn::Error::new(text.span(), format!("invalid `{name}`: {message}"))),
        },
        // `-5` reaches us as one negative literal, not as `Expr::Unary`.
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) if int.base10_digits().starts_with('-') => {
            errors.push(syn::Error::new(int.span(), negative));
        }
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. })
            if float.base10_digits().starts_with('-') =>
        {
            errors.push(syn::Error::new(float.span(), negative));
        }
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => match int.base10_parse::<u64>() {
            Ok(0) => errors.push(syn::Error::new(int.span(), zero)),
            Ok(secs) => return Some(Ttl::Nanos(u128::from(secs) * 1_000_000_000)),
            Err(error) => errors.push(error),
        },
        Expr::Lit(ExprLit { lit: Lit::Float(float), .. }) => match float.base10_parse::<f64>() {
            Ok(secs) if secs > 0.0 && secs.is_finite() && secs < 1e12 => {
                return Some(Ttl::Nanos((secs * 1e9).round() as u128));
            }
            Ok(_) => errors.push(syn::Error::new(float.span(), zero)),
            Err(error) => errors.push(error),
        },
        Expr::Lit(other) => errors.push(syn::Error::new(
            other.span(),
            format!("`{name}` takes seconds (`{name} = 600`), a duration string (`{name} = \"10m\"`) or a `Duration` expression"),
        )),
        Expr::Unary(ExprUnary { op: UnOp::Neg(minus), .. }) => {
            errors.push(syn::Error::new(minus.span(), negative));
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

fn max_size(value: Expr, errors: &mut Vec<syn::Error>) -> Option<MaxSize> {
    const EXPECTED: &str = "`max_size` takes bytes (`max_size = 1_000_000`) or a size with a unit (`max_size = \"256MiB\"`; b, kb, mb, gb, tb, all powers of 1024)";
    const NEGATIVE: &str = "`max_size` cannot be negative";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => match crate::bytes::parse(&text.value()) {
            Ok(bytes) => return Some(MaxSize::Bytes(bytes)),
            Err(message) => errors.push(syn::Error::new(
                text.span(),
                format!("invalid `max_size`: {message}"),
            )),
        },
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if int.base10_digits().starts_with('-') => {
            errors.push(syn::Error::new(int.span(), NEGATIVE));
        }
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u64>() {
            Ok(0) => errors.push(syn::Error::new(
                int.span(),
                "`max_size` must be at least 1 byte; remove it for a cache unbounded in bytes",
            )),
            Ok(bytes) => return Some(MaxSize::Bytes(bytes)),
            Err(error) => errors.push(error),
        },
        Expr::Lit(other) => errors.push(syn::Error::new(other.span(), EXPECTED)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(minus),
            ..
        }) => {
            errors.push(syn::Error::new(minus.span(), NEGATIVE));
        }
        other => return Some(MaxSize::Expr(other)),
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

/// `hash_funcs(Type = path, ..)`, every problem pushed into `errors`.
fn hash_funcs(meta: Meta, errors: &mut Vec<syn::Error>) -> HashFuncs {
    let mut funcs = HashFuncs::default();
    let list: MetaList = match meta {
        Meta::List(list) => list,
        other => {
            funcs.malformed = true;
            errors.push(syn::Error::new_spanned(
                other,
                format!(
                    "`hash_funcs` takes a list: write `hash_funcs(Type = path)`, {}; \
                     to key a single parameter by a function, put `#[cache(hash_with = path)]` on it instead",
                    example(HASH_FUNCS)
                ),
            ));
            return funcs;
        }
    };
    let entries = match list.parse_args_with(Punctuated::<Entry, Token![,]>::parse_terminated) {
        Ok(entries) => entries,
        Err(error) => {
            funcs.malformed = true;
            errors.push(syn::Error::new(
                error.span(),
                format!(
                    "{error}: `hash_funcs` takes `Type = path` entries separated by commas, {}",
                    example(HASH_FUNCS)
                ),
            ));
            return funcs;
        }
    };
    if entries.is_empty() {
        errors.push(syn::Error::new(
            list.delimiter.span().join(),
            format!(
                "`hash_funcs()` is empty: add `Type = path` entries, {}, or remove it",
                example(HASH_FUNCS)
            ),
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for Entry { ty, func } in entries {
        let ty = match ty {
            Type::Path(path) if path.qself.is_none() => path.path,
            Type::Reference(reference) => {
                funcs.malformed = true;
                errors.push(syn::Error::new_spanned(
                    &reference,
                    format!(
                        "write the type without `&`: `hash_funcs` looks through references, so `{}` also \
                         applies to `&{0}`, `Option<&{0}>` and `&[{0}]` parameters",
                        written(&reference.elem)
                    ),
                ));
                continue;
            }
            other => {
                funcs.malformed = true;
                errors.push(syn::Error::new_spanned(
                    &other,
                    format!(
                        "`hash_funcs` names a type by its path, e.g. `Connection`, `db::Connection` or \
                         `Frame<f64>`; `{}` is not a path: key such a parameter with \
                         `#[cache(hash_with = path)]` on it",
                        written(&other)
                    ),
                ));
                continue;
            }
        };
        let text = written(&ty);
        if seen.contains(&text) {
            errors.push(syn::Error::new_spanned(
                &ty,
                format!("`{text}` appears more than once in `hash_funcs`; keep one entry per type"),
            ));
            continue;
        }
        seen.push(text);
        let func = match func {
            Expr::Path(path) => Some(path),
            other => {
                errors.push(syn::Error::new_spanned(
                    &other,
                    format!(
                        "`hash_funcs` maps each type to the path of a function, e.g. \
                         `{} = {1}` where `fn {1}(value: &{0}) -> String` (any `Serialize` \
                         result); move this expression into a named `fn`",
                        written(&ty),
                        key_fn_name(&ty)
                    ),
                ));
                None
            }
        };
        funcs.entries.push(HashFunc { ty, func });
    }
    funcs
}

/// `frame_key` for `Frame`, `http_client_key` for `net::HttpClient`: a name
/// for the example in a message.
fn key_fn_name(ty: &Path) -> String {
    let last = ty
        .segments
        .last()
        .map_or_else(String::new, |s| s.ident.to_string());
    let mut name = String::new();
    for (i, c) in last.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.extend(c.to_lowercase());
    }
    name.push_str("_key");
    name
}

/// One `Type = path` of `hash_funcs(..)`, before it is checked.
struct Entry {
    ty: Type,
    func: Expr,
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let ty = input.parse()?;
        input.parse::<Token![=]>()?;
        let func = input.parse()?;
        Ok(Entry { ty, func })
    }
}

/// Whether unparsable attribute tokens mention `hash_funcs`.
fn mentions_hash_funcs(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == HASH_FUNCS,
        TokenTree::Group(group) => mentions_hash_funcs(&group.stream()),
        _ => false,
    })
}

/// Tokens as a person writes them: `db::Connection`, `Frame<f64>`,
/// `Option<&'a [u8]>`, `HashMap<String, u32>`. Types are compared by this
/// text, so it must not depend on how the user spaced them.
pub(crate) fn written(tokens: &impl ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    let chars: Vec<char> = text.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            let keep = before == Some(',')
                || before.is_some_and(word) && after.is_some_and(|c| word(c) || c == '\'');
            if !keep {
                continue;
            }
        }
        out.push(c);
    }
    out
}
