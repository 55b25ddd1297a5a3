//! The function being cached, parsed into what the expansion needs: its
//! parameters and how each takes part in the key, its receiver, and its
//! return type (plain or `Result`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, Receiver,
    ReturnType, Type, parse_quote,
};

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
}

impl Function {
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
/// from `item` so it can be re-emitted unchanged on error. `method` (the
/// attribute's flag) marks an associated function that mentions neither
/// `self` nor `Self`.
pub(crate) fn parse(
    item: &mut ItemFn,
    method: bool,
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
    let in_impl = method || receiver.is_some() || mentions_self_type(item.to_token_stream());
    Some(Function {
        item: item.clone(),
        receiver,
        params,
        output,
        in_impl,
    })
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
