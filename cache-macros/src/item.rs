//! The function being cached, parsed into what the expansion needs: its
//! parameters and how each takes part in the key, its receiver, and its
//! return type (plain or `Result`); and how the attribute's `hash_funcs`
//! applies to a parameter's written type (`shape`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, Receiver,
    ReturnType, Type, TypePath, parse_quote,
};

use crate::args::{Args, HashFunc, written};

/// How one parameter takes part in the key.
pub(crate) enum KeyMode {
    /// Serialized by value.
    Value,
    /// Left out (`_name` or `#[cache(skip)]`).
    Skip,
    /// Keyed by what `path(&arg)` returns.
    HashWith(Expr),
}

/// One typed parameter (not `self`).
pub(crate) struct Param {
    /// The name the wrapper binds it to: the user's identifier, or
    /// `__cache_argN` when the user wrote a pattern.
    pub(crate) binding: Ident,
    /// The user's pattern when it is not a plain identifier (re-bound inside the body).
    pub(crate) pattern: Option<Pat>,
    pub(crate) ty: Type,
    pub(crate) key: KeyMode,
}

/// The receiver of a method.
pub(crate) struct SelfParam {
    pub(crate) receiver: Receiver,
    pub(crate) key: KeyMode,
}

/// The return type.
pub(crate) enum Output {
    /// Any value, stored as it is.
    Plain(Type),
    /// A type named `Result` (`Result<T, E>`, `io::Result<T>`, …): `Ok` values
    /// are stored, `Err` values go back to the caller.
    Result { ok: Type },
}

/// The parsed function.
pub(crate) struct Function {
    pub(crate) item: ItemFn,
    pub(crate) receiver: Option<SelfParam>,
    pub(crate) params: Vec<Param>,
    pub(crate) output: Output,
    /// A method or associated function: the companion handle must be associated functions.
    pub(crate) in_impl: bool,
    /// A method of a trait impl (`trait_impl`): nothing but the method can be
    /// generated, so its cache lives inside it.
    pub(crate) in_trait_impl: bool,
    /// A method whose cache cannot be a `static` of its own: its types may
    /// name the generic `impl`'s parameters (`generic`, or a type named like
    /// `T`, or `Self`).
    pub(crate) in_generic_impl: bool,
}

impl Function {
    /// The function's type parameters, in order (a generic function has a
    /// cache per instantiation).
    pub(crate) fn type_params(&self) -> Vec<&Ident> {
        self.item
            .sig
            .generics
            .type_params()
            .map(|param| &param.ident)
            .collect()
    }

    /// Whether the function's caches are found at run time, one per
    /// instantiation (a `Family`), rather than being one `static`: a generic
    /// function or method, a method of a generic `impl`, or of a trait impl.
    pub(crate) fn has_family(&self) -> bool {
        !self.type_params().is_empty() || self.in_generic_impl || self.in_trait_impl
    }

    /// The stored type: the return type, or its `Ok` type.
    pub(crate) fn stored(&self) -> &Type {
        match &self.output {
            Output::Plain(ty) | Output::Result { ok: ty } => ty,
        }
    }

    pub(crate) fn key_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| !matches!(p.key, KeyMode::Skip))
    }

    /// No receiver, no generics, and no parameter type that borrows (a
    /// reference, a lifetime) or is `impl Trait`: the body can be `'static`.
    pub(crate) fn owns_its_arguments(&self) -> bool {
        self.receiver.is_none()
            && self.item.sig.generics.params.is_empty()
            && self.params.iter().all(|param| !borrows(&param.ty))
    }

    /// Whether the body mentions the function's own name (a recursive call):
    /// the compiler cannot prove such a future `Send` inside its own body.
    pub(crate) fn mentions_itself(&self) -> bool {
        fn find(tokens: TokenStream, name: &Ident) -> bool {
            tokens.into_iter().any(|token| match token {
                TokenTree::Ident(ident) => ident == *name,
                TokenTree::Group(group) => find(group.stream(), name),
                _ => false,
            })
        }
        find(self.item.block.to_token_stream(), &self.item.sig.ident)
    }

    pub(crate) fn self_in_key(&self) -> bool {
        self.receiver
            .as_ref()
            .is_some_and(|r| !matches!(r.key, KeyMode::Skip))
    }
}

/// Parses the function; also strips our `#[cache(..)]` parameter attributes
/// from `item` so it can be re-emitted unchanged on error. The attribute's
/// flags say what the macro cannot see: `method` marks an associated
/// function that mentions neither `self` nor `Self`, `trait_impl` a method of
/// a trait impl, `generic` a method of a generic `impl`.
pub(crate) fn parse(
    item: &mut ItemFn,
    args: &Args,
    errors: &mut Vec<syn::Error>,
) -> Option<Function> {
    let mut receiver = None;
    let mut params = Vec::new();
    for (index, input) in item.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(recv) => {
                let key = key_mode(&mut recv.attrs, "self", errors);
                receiver = Some(SelfParam {
                    receiver: recv.clone(),
                    key,
                });
            }
            FnArg::Typed(typed) => {
                let (binding, pattern) = match &*typed.pat {
                    Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() => {
                        (pat.ident.clone(), None)
                    }
                    other => (format_ident!("__cache_arg{}", index), Some(other.clone())),
                };
                let underscore = binding.to_string().starts_with('_') && pattern.is_none()
                    || matches!(&*typed.pat, Pat::Wild(_));
                let mut key = key_mode(&mut typed.attrs, &binding.to_string(), errors);
                if underscore && matches!(key, KeyMode::Value) {
                    key = KeyMode::Skip;
                }
                params.push(Param {
                    binding,
                    pattern,
                    ty: (*typed.ty).clone(),
                    key,
                });
            }
        }
    }
    let output = match &item.sig.output {
        ReturnType::Default => Output::Plain(parse_quote!(())),
        ReturnType::Type(_, ty) => classify(ty),
    };
    let in_trait_impl = args.trait_impl;
    let stored = match &output {
        Output::Plain(ty) | Output::Result { ok: ty } => ty,
    };
    // In an `impl`, a type named like a parameter (`T`) that the function
    // does not declare is the `impl`'s.
    let own: Vec<Ident> = item
        .sig
        .generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let names_impl_parameter = |ty: &Type| names_impl_parameter(ty, &own);
    let mentions_impl_parameter =
        names_impl_parameter(stored) || params.iter().any(|param| names_impl_parameter(&param.ty));
    // Not from `mentions_impl_parameter`: a free function's `T` is a type
    // of its module, and a method cannot be told from it (`method` can).
    let in_impl = args.method
        || in_trait_impl
        || args.generic
        || receiver.is_some()
        || mentions_self_type(item.to_token_stream());
    let in_generic_impl = in_impl && (args.generic || mentions_impl_parameter);
    Some(Function {
        item: item.clone(),
        receiver,
        params,
        output,
        in_impl,
        in_trait_impl,
        in_generic_impl,
    })
}

/// Whether a function's type (its return or an argument's) may name its
/// `impl`'s parameters, which a `static` inside it cannot: `Self`, or a
/// path named like a type parameter (`T`, `K`, `V2`) that is not one of the
/// function's `own`. The macro sees only the function; other names need the
/// `generic` flag.
fn names_impl_parameter(ty: &Type, own: &[Ident]) -> bool {
    fn like_parameter(ident: &Ident, own: &[Ident]) -> bool {
        let name = ident.to_string();
        let mut chars = name.chars();
        name == "Self"
            || chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_digit())
                && !own.contains(ident)
    }
    fn find(tokens: TokenStream, own: &[Ident]) -> bool {
        let mut previous_colons = false;
        for tree in tokens {
            match &tree {
                // `T` alone, not `module::T` or `T::Assoc`'s tail.
                TokenTree::Ident(ident) if !previous_colons && like_parameter(ident, own) => {
                    return true;
                }
                TokenTree::Group(group) if find(group.stream(), own) => return true,
                _ => {}
            }
            previous_colons = matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ':');
        }
        false
    }
    find(ty.to_token_stream(), own)
}

/// Reads and removes `#[cache(skip)]` / `#[cache(hash_with = path)]`.
fn key_mode(attrs: &mut Vec<Attribute>, name: &str, errors: &mut Vec<syn::Error>) -> KeyMode {
    let mut mode = KeyMode::Value;
    let mut seen: Option<Span> = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("cache") {
            return true;
        }
        let result = attr.parse_nested_meta(|meta| {
            if let Some(_first) = seen {
                return Err(meta.error(format!(
                    "parameter `{name}` already has a `#[cache(..)]` rule; use either `skip` or `hash_with`"
                )));
            }
            seen = Some(meta.path.span());
            if meta.path.is_ident("skip") {
                mode = KeyMode::Skip;
                Ok(())
            } else if meta.path.is_ident("hash_with") {
                let expected = "expected `#[cache(hash_with = path)]`, e.g. `hash_with = Connection::url` where `fn url(conn: &Connection) -> String`";
                let value = meta.value().map_err(|error| syn::Error::new(error.span(), expected))?;
                mode = KeyMode::HashWith(value.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown parameter rule; expected `#[cache(skip)]` or `#[cache(hash_with = path)]`"))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
        false
    });
    mode
}

/// `Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`, `fmt::Result`.
fn classify(ty: &Type) -> Output {
    if let Type::Path(path) = ty
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
    {
        let ok = match &last.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            }),
            _ => None,
        };
        return Output::Result {
            ok: ok.unwrap_or_else(|| parse_quote!(())),
        };
    }
    Output::Plain(ty.clone())
}

fn mentions_self_type(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "Self",
        TokenTree::Group(group) => mentions_self_type(group.stream()),
        _ => false,
    })
}

/// The `Ok` slot of a `Result`-named type, to rewrite `T` into `Arc<T>`.
pub(crate) fn ok_slot(ty: &mut Type) -> Option<&mut Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last_mut()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &mut last.arguments else {
        return None;
    };
    args.args.iter_mut().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// Whether a written type may borrow: a reference, a lifetime other than
/// `'static`, an `impl Trait`, or a trait object (which may hide one).
fn borrows(ty: &Type) -> bool {
    use syn::visit::Visit;
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            self.0 = true;
            syn::visit::visit_type_reference(self, node);
        }
        fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
            self.0 |= lifetime.ident != "static";
        }
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
        fn visit_type_trait_object(&mut self, _: &'ast syn::TypeTraitObject) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// How the `hash_funcs` entries apply to one parameter's written type. `&`
/// (any lifetime, any depth) is looked through everywhere.
pub(crate) enum Shape {
    /// No entry applies: keyed by value.
    Value,
    /// The type is entry `index`'s type behind `refs` references: keyed by
    /// what the entry's function returns.
    Entry { index: usize, refs: usize },
    /// `Option<U>` with an entry applying inside `U`: whether it is `Some`,
    /// then `U`'s key (postcard's framing of an `Option`).
    Option(Box<Shape>),
    /// `Vec<U>`, `[U]` or `[U; N]` with an entry applying inside `U`: the
    /// length, then each item's key (postcard's framing of a sequence).
    Seq(Box<Shape>),
}

impl Shape {
    /// The entry this shape applies, if any.
    pub(crate) fn entry(&self) -> Option<usize> {
        match self {
            Shape::Value => None,
            Shape::Entry { index, .. } => Some(*index),
            Shape::Option(inner) | Shape::Seq(inner) => inner.entry(),
        }
    }
}

/// A place where an entry's type occurs inside a parameter's type but
/// `hash_funcs` cannot reach it (`HashMap<String, Connection>`,
/// `(Connection, u32)`, `Box<Connection>`).
pub(crate) struct Unreachable {
    /// The type `hash_funcs` cannot look into.
    pub(crate) outer: Type,
    pub(crate) entry: usize,
}

/// How `entries` apply to a parameter of type `ty`; the entry types it
/// mentions where they cannot be reached are pushed into `unreachable`.
///
/// Types are compared as written (see [`entry_for`]); `Option` and `Vec` are
/// recognized by the last segment of their path, so they too are compared by
/// name.
pub(crate) fn shape(ty: &Type, entries: &[HashFunc], unreachable: &mut Vec<Unreachable>) -> Shape {
    if entries.is_empty() {
        return Shape::Value;
    }
    let (ty, refs) = strip(ty);
    let inner = match ty {
        Type::Path(path) => {
            if let Some(index) = entry_for(path, entries) {
                return Shape::Entry { index, refs };
            }
            container(path)
        }
        Type::Slice(slice) => Some((false, &*slice.elem)),
        Type::Array(array) => Some((false, &*array.elem)),
        _ => None,
    };
    match inner {
        Some((is_option, inner)) => match shape(inner, entries, unreachable) {
            Shape::Value => Shape::Value,
            inner if is_option => Shape::Option(Box::new(inner)),
            inner => Shape::Seq(Box::new(inner)),
        },
        None => {
            if let Some(entry) = mentioned(ty, entries) {
                unreachable.push(Unreachable {
                    outer: ty.clone(),
                    entry,
                });
            }
            Shape::Value
        }
    }
}

/// `ty` without references and parentheses, and how many references.
fn strip(mut ty: &Type) -> (&Type, usize) {
    let mut refs = 0;
    loop {
        match ty {
            Type::Reference(reference) => {
                refs += 1;
                ty = &reference.elem;
            }
            Type::Paren(paren) => ty = &paren.elem,
            Type::Group(group) => ty = &group.elem,
            other => return (other, refs),
        }
    }
}

/// `Option<U>` → `(true, U)`, `Vec<U>` → `(false, U)`, by the last segment.
fn container(path: &TypePath) -> Option<(bool, &Type)> {
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let is_option = last.ident == "Option";
    if !is_option && last.ident != "Vec" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some((is_option, inner)),
        _ => None,
    }
}

/// The entry whose type is `path` as written: its segments (identifiers and
/// generic arguments, spacing aside) are the last segments of `path`, so
/// `Connection` matches `Connection` and `db::Connection`, and
/// `db::Connection` matches `crate::db::Connection` but not `Connection`. A
/// leading `::` is ignored. When several match, the longest wins.
pub(crate) fn entry_for(path: &TypePath, entries: &[HashFunc]) -> Option<usize> {
    if path.qself.is_some() {
        return None;
    }
    let written_segments: Vec<String> = path.path.segments.iter().map(segment).collect();
    entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| {
            let wanted: Vec<String> = entry.ty.segments.iter().map(segment).collect();
            written_segments.ends_with(&wanted)
        })
        .max_by_key(|(_, entry)| entry.ty.segments.len())
        .map(|(index, _)| index)
}

/// One path segment as written; `Vec::<T>` and `Vec<T>` are the same.
fn segment(segment: &syn::PathSegment) -> String {
    match &segment.arguments {
        PathArguments::None => segment.ident.to_string(),
        PathArguments::AngleBracketed(args) => {
            format!("{}<{}>", segment.ident, written(&args.args))
        }
        PathArguments::Parenthesized(args) => format!("{}{}", segment.ident, written(args)),
    }
}

/// The first entry whose type occurs anywhere inside `ty`.
fn mentioned(ty: &Type, entries: &[HashFunc]) -> Option<usize> {
    use syn::visit::Visit;
    struct Finder<'a> {
        entries: &'a [HashFunc],
        found: Option<usize>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_type_path(&mut self, path: &'ast TypePath) {
            if self.found.is_some() {
                return;
            }
            match entry_for(path, self.entries) {
                Some(index) => self.found = Some(index),
                None => syn::visit::visit_type_path(self, path),
            }
        }
    }
    let mut finder = Finder {
        entries,
        found: None,
    };
    finder.visit_type(ty);
    finder.found
}
