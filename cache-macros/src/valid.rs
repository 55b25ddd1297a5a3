//! Rules that need the whole function: what can be a cached function at all.
//! Every violation is collected, each spanned on the offending token.

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{FnArg, GenericParam, Lifetime, ReturnType, Type, TypeImplTrait, TypeReference};

use crate::args::{Args, Macro, written};
use crate::item::{self, Function, KeyMode};

pub(crate) fn check(which: Macro, args: &Args, function: &Function, errors: &mut Vec<syn::Error>) {
    let name = which.name();
    let sig = &function.item.sig;

    check_hash_funcs(args, function, errors);
    if args.background {
        check_refreshable(name, function, errors);
    }

    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span(),
            format!("`#[{name}]` cannot cache a `const fn`: a const fn must stay callable at compile time; remove `const`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new(
            abi.span(),
            format!(
                "`#[{name}]` cannot cache an `extern` function; cache a Rust function that calls it"
            ),
        ));
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => {}
            // Each instantiation gets a cache of its own, found by its
            // types' `TypeId`s: they must be `'static`, a bound a trait
            // impl's method cannot add.
            GenericParam::Type(ty) if function.in_trait_impl => errors.push(syn::Error::new(
                ty.ident.span(),
                format!(
                    "`#[{name}]` cannot cache a trait method with type parameters: each instantiation's \
                     cache needs its types `'static`, a bound an impl cannot add to the trait's; cache a \
                     generic free function and call it from the method"
                ),
            )),
            GenericParam::Type(_) => {}
            GenericParam::Const(konst) => errors.push(syn::Error::new(
                konst.ident.span(),
                format!("`#[{name}]` does not support const generics; pass the value as an ordinary argument"),
            )),
        }
    }

    if which == Macro::Resource && function.in_trait_impl {
        let span = match &sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => sig.ident.span(),
        };
        errors.push(syn::Error::new(
            span,
            "`#[cache_resource]` hands out `Arc<T>` for a `T` body, a signature the trait fixes; in a \
             trait impl, return `Arc<T>` from `#[cache_data(trait_impl)]` instead: every caller then gets \
             a clone of the one `Arc`, as from a resource",
        ));
    }

    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver)
                if receiver.mutability.is_some() && receiver.reference.is_some() =>
            {
                errors.push(syn::Error::new(
                    // `mut`, as for `&mut` arguments (`receiver.span()` is only `&` on stable).
                    receiver.mutability.map_or_else(|| receiver.span(), |m| m.span),
                    format!("`#[{name}]` cannot cache a `&mut self` method: a hit would skip the mutation; take `&self`"),
                ));
            }
            FnArg::Receiver(_) => {}
            FnArg::Typed(typed) => check_argument_type(name, &typed.ty, errors),
        }
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        let mut finder = Borrowed::default();
        finder.visit_type(ty);
        if let Some(span) = finder.impl_trait {
            errors.push(syn::Error::new(
                span,
                format!("`#[{name}]` cannot store an `impl Trait` value; return a concrete type (or a `Box<dyn Trait + Send + Sync>`)"),
            ));
        }
        if let Some(span) = finder.borrow {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[{name}]` must return an owned value: a cached value outlives the call, so it cannot borrow \
                     from the arguments; return an owned type (e.g. `String` instead of `&str`)"
                ),
            ));
        }
    }
}

fn check_argument_type(name: &str, ty: &Type, errors: &mut Vec<syn::Error>) {
    struct Arguments<'a> {
        name: &'a str,
        errors: &'a mut Vec<syn::Error>,
    }
    impl<'ast> Visit<'ast> for Arguments<'_> {
        fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
            if let Some(mutability) = &reference.mutability {
                let span = reference
                    .and_token
                    .span
                    .join(mutability.span)
                    .unwrap_or(mutability.span);
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "`#[{}]` cannot take `&mut` arguments: on a hit the body does not run, so the mutation would \
                         silently not happen; take the value or a `&` reference",
                        self.name
                    ),
                ));
            }
            visit::visit_type_reference(self, reference);
        }
        fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
            self.errors.push(syn::Error::new(
                impl_trait.impl_token.span,
                format!(
                    "`#[{}]` cannot key on an `impl Trait` argument: the key needs a concrete, serializable type; \
                     take a concrete type such as `&str`, `Vec<T>` or your own `#[derive(Serialize)]` struct",
                    self.name
                ),
            ));
        }
    }
    Arguments { name, errors }.visit_type(ty);
}

/// Finds `impl Trait` and borrows (references or lifetimes other than `'static`).
#[derive(Default)]
struct Borrowed {
    impl_trait: Option<proc_macro2::Span>,
    borrow: Option<proc_macro2::Span>,
}

impl<'ast> Visit<'ast> for Borrowed {
    fn visit_type_impl_trait(&mut self, node: &'ast TypeImplTrait) {
        self.impl_trait.get_or_insert(node.impl_token.span);
    }
    fn visit_type_reference(&mut self, node: &'ast TypeReference) {
        let is_static = node.lifetime.as_ref().is_some_and(|l| l.ident == "static");
        if !is_static {
            self.borrow.get_or_insert(node.and_token.span);
        }
        visit::visit_type_reference(self, node);
    }
    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if lifetime.ident != "static" {
            self.borrow.get_or_insert(lifetime.span());
        }
    }
}

/// `refresh_mode = "background"` runs the body after the call returned,
/// with its own copy of each argument: a `&T` (copied by `ToOwned`) or an
/// owned type; nothing that borrows deeper, and no `self`.
fn check_refreshable(name: &str, function: &Function, errors: &mut Vec<syn::Error>) {
    if let Some(receiver) = &function.receiver {
        errors.push(syn::Error::new(
            receiver.receiver.self_token.span,
            format!(
                "`#[{name}(refresh_mode = \"background\")]` cannot refresh a method that takes `self`: the \
                 refresh runs after the call returned, without it; make it an associated function taking \
                 what it needs (with `method`)"
            ),
        ));
    }
    for param in &function.params {
        let inner = match &param.ty {
            Type::Reference(reference) => &*reference.elem,
            ty => ty,
        };
        let mut finder = Borrowed::default();
        finder.visit_type(inner);
        if let Some(span) = finder.borrow {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[{name}(refresh_mode = \"background\")]` keeps its own copy of each argument for the \
                     refresh, which runs after the call returned, and cannot copy a borrow nested in \
                     `{}`; take an owned type (e.g. `Option<String>` for `Option<&str>`) or a plain `&T`",
                    written(&param.ty)
                ),
            ));
        }
    }
}

/// Every `hash_funcs` entry applies to a key parameter, and wherever it is
/// mentioned it can be reached; then hands the entries to the function for
/// the key writes. Receivers are never matched.
fn check_hash_funcs(args: &Args, function: &Function, errors: &mut Vec<syn::Error>) {
    let hash_funcs = &args.hash_funcs;
    let entries = &hash_funcs.entries;
    let fn_name = &function.item.sig.ident;
    // Per entry: whether it applies to a key parameter; the parameters it
    // would apply to that have their own rule.
    let mut applies = vec![false; entries.len()];
    let mut overridden: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
    for param in &function.params {
        let mut unreachable = Vec::new();
        let shape = item::shape(&param.ty, entries, &mut unreachable);
        let binding = &param.binding;
        match &param.key {
            KeyMode::Value => {
                if let Some(entry) = shape.entry() {
                    applies[entry] = true;
                }
                for place in unreachable {
                    // Reported here; not again as "matches no parameter".
                    applies[place.entry] = true;
                    let entry = written(&entries[place.entry].ty);
                    errors.push(syn::Error::new_spanned(
                        &place.outer,
                        format!(
                            "`hash_funcs` cannot reach the `{entry}` inside `{}` (parameter `{binding}`): it applies \
                             to a parameter of type `T`, `&T`, `Option<T>`, `Vec<T>`, `[T]` or `[T; N]`, nested \
                             in any order (`Option<&[T]>`); key this parameter with `#[cache(hash_with = path)]`, \
                             or add a `hash_funcs` entry for `{0}` itself",
                            written(&place.outer)
                        ),
                    ));
                }
            }
            KeyMode::HashWith(_) | KeyMode::Skip => {
                let rule = if matches!(param.key, KeyMode::Skip) {
                    format!("`{binding}` is left out of the key")
                } else {
                    format!("`{binding}` has its own `#[cache(hash_with = ..)]`, which wins")
                };
                let mentioned = shape
                    .entry()
                    .into_iter()
                    .chain(unreachable.iter().map(|u| u.entry));
                for entry in mentioned {
                    overridden[entry].push(rule.clone());
                }
            }
        }
    }
    for (index, entry) in entries.iter().enumerate() {
        if applies[index] {
            continue;
        }
        let ty = written(&entry.ty);
        let message = if overridden[index].is_empty() {
            let mut message = format!(
                "`hash_funcs` entry `{ty}` matches no parameter of `{fn_name}`; the types are compared as \
                 written (aliases are not resolved), and an entry may leave out leading path segments \
                 (`Connection` matches `db::Connection`) but not add any"
            );
            if let Some(hint) = near_miss(function, entry) {
                message.push_str(&hint);
            }
            if function.receiver.is_some() {
                message.push_str(
                    "; `self` is never matched: key it with `#[cache(hash_with = path)] &self`",
                );
            }
            message
        } else {
            format!(
                "`hash_funcs` entry `{ty}` applies to no key parameter of `{fn_name}` ({}): remove the entry",
                overridden[index].join("; ")
            )
        };
        errors.push(syn::Error::new_spanned(&entry.ty, message));
    }
}

/// For an entry that matched nothing, a parameter type with the same last
/// identifier written differently: "parameter `conn` writes it `Connection`".
fn near_miss(function: &Function, entry: &crate::args::HashFunc) -> Option<String> {
    struct Finder<'a> {
        last: &'a syn::Ident,
        found: Option<&'a syn::Path>,
    }
    impl<'ast: 'a, 'a> Visit<'ast> for Finder<'a> {
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if self.found.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == *self.last)
            {
                self.found = Some(&path.path);
            }
            visit::visit_type_path(self, path);
        }
    }
    let last = &entry.ty.segments.last()?.ident;
    function.params.iter().find_map(|param| {
        let mut finder = Finder { last, found: None };
        finder.visit_type(&param.ty);
        let found = finder.found?;
        let mut hint = format!(
            "; parameter `{}` writes it `{}`: write the entry the same way",
            param.binding,
            written(found)
        );
        if found.segments.len() > 1 {
            let tail = found.segments.last().expect("a path has a last segment");
            hint.push_str(&format!(", or as `{}`", written(tail)));
        }
        Some(hint)
    })
}
