//! Code generation. Everything here is infallible: `args`, `item` and `valid`
//! have already rejected what cannot be cached.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, PatIdent, ReturnType, Type, parse_quote};

use crate::args::{self, Args, Macro, MaxSize, Persist, SpinnerArg, Ttl};
use crate::item::{self, Function, Output};
use crate::{keys, valid};

/// Mixed into a word function's code hash: its persistent records are keyed
/// by word bytes, so they get an id of their own.
const WORD_KEYS: u64 = 0x776f_7264_6b65_7973; // "wordkeys"

/// The entry point of both attributes.
pub(crate) fn cache(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            let message = format!(
                "`#[{}]` goes on a function with a body (`fn` or `async fn`)",
                which.name()
            );
            let error = syn::Error::new(Span::call_site(), message).into_compile_error();
            return quote!(#error #item);
        }
    };
    // The function's identity: an edited body is a different function.
    let code_hash = xxhash_rust::xxh3::xxh3_64(item.to_string().as_bytes());
    let mut errors = Vec::new();
    let args = args::parse(which, args, &mut errors);
    let attribute_errors = errors.len();
    let function = item::parse(&mut item_fn, &args, &mut errors);
    if let Some(function) = &function {
        valid::check(which, &args, function, &mut errors);
    }
    match function {
        // Only the attribute was wrong: expand with what it got right (the
        // defaults elsewhere), so the user sees those errors and nothing
        // else — callers and `f::clear()` still resolve (as tokio-macros).
        Some(function) if errors.len() == attribute_errors => {
            let expansion = generate(which, &args, function, code_hash);
            let errors = combine(errors);
            quote!(#errors #expansion)
        }
        _ => fallback(&item_fn, errors),
    }
}

/// Every error as one `compile_error!` sequence (nothing when there is none).
fn combine(errors: Vec<syn::Error>) -> Option<TokenStream> {
    errors
        .into_iter()
        .reduce(|mut all, next| {
            all.combine(next);
            all
        })
        .map(syn::Error::into_compile_error)
}

/// On error: the user's function unchanged (minus our parameter attributes),
/// so callers still resolve and IDEs keep completing, plus every error.
fn fallback(item_fn: &ItemFn, errors: Vec<syn::Error>) -> TokenStream {
    let errors = combine(errors);
    quote!(#errors #item_fn)
}

// Input:
//     #[cache_data(ttl = "10m")]
//     pub fn load_rows(table: &str, limit: u32) -> Result<Vec<Row>, DbError> { body }
// Output: the wrapper (see `wrapper`), and the handle holding the static
// (see `handle` and `static_cache`). Methods get `Self::__cache_NAME()`,
// `NAME_cache_clear()`, `NAME_cache_invalidate(..)` and `NAME_cache_stats()` in
// the same impl block instead of the companion type.
fn generate(which: Macro, args: &Args, function: Function, code_hash: u64) -> TokenStream {
    let krate: syn::Path = args
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::cache_runtime));
    let private = quote!(#krate::__private);
    // The word a front-table lookup searches by: with one, the key is the
    // word in memory and in every tier (see `keys::packed_word`).
    // A background-refresh function is looked up by its key bytes: its
    // stale values are found in moka, after a front miss.
    // A session-scoped function's keys start with the session's prefix.
    // A generic function's instantiations each have a cache of their own,
    // found at run time: no `thread_local!` entry per function.
    let family = function.has_family();
    let word = if args.no_front || args.background || args.session || family {
        None
    } else {
        keys::packed_word(&function, &args.hash_funcs, &private)
    };
    let expansion = Expansion {
        which,
        args,
        private,
        function: &function,
        code_hash,
        word,
    };
    let accessor = if function.in_impl {
        format_ident!("__cache_{}", function.item.sig.ident)
    } else {
        format_ident!("__cache")
    };
    let name = &function.item.sig.ident;
    let type_params = function.type_params();
    let turbofish = (!type_params.is_empty()).then(|| quote!(::<#(#type_params),*>));
    // The cache of this call (for a generic function, of this instantiation)
    // and the controls of every instantiation.
    let (reach, reach_all) = if function.in_trait_impl {
        // Nothing but the method can go in a trait impl: its family is a
        // `static` inside it (see `Expansion::family_member`).
        let member = expansion.family_member(&quote!(&__CACHE_FAMILY));
        let family = family_static(&expansion.private);
        let reach = quote!(({ #family #member }));
        (reach.clone(), reach)
    } else if function.in_impl && family {
        let family_accessor = format_ident!("__cache_family_{}", name);
        (
            quote!(Self::#accessor #turbofish ()),
            quote!(Self::#family_accessor()),
        )
    } else if function.in_impl {
        (quote!(Self::#accessor()), quote!(Self::#accessor()))
    } else if type_params.is_empty() {
        (quote!(#name::#accessor()), quote!(#name::#accessor()))
    } else {
        (
            quote!(#name::#accessor::<#(#type_params),*>()),
            quote!(#name::__cache_family()),
        )
    };
    let wrapper = expansion.wrapper(&reach);
    let handle = expansion.handle(&reach, &reach_all, &accessor);
    quote! {
        #wrapper

        #handle
    }
}

/// What every part of one expansion needs.
struct Expansion<'a> {
    which: Macro,
    args: &'a Args,
    /// `cache_runtime::__private` (or the `crate = ..` path's).
    private: TokenStream,
    function: &'a Function,
    code_hash: u64,
    /// The key arguments packed into one `u64`, when they pack.
    word: Option<TokenStream>,
}

impl Expansion<'_> {
    fn is_async(&self) -> bool {
        self.function.item.sig.asyncness.is_some()
    }

    /// The function's generics for what the expansion declares: each type
    /// parameter `'static` (see `static_generics`) and, when the value's
    /// type may mention a type parameter, `where Value: DataValue` (or
    /// `ResourceValue`). With that bound, an instantiation whose value
    /// cannot be cached is one error at its call, not errors inside the
    /// expansion (the cache type's own bounds, then each method's).
    fn generics(&self) -> syn::Generics {
        let function = self.function;
        let mut generics = static_generics(&function.item.sig.generics);
        let generic = !function.type_params().is_empty() || function.in_generic_impl;
        if generic && !function.in_trait_impl {
            let private = &self.private;
            let stored = function.stored();
            let bound = match self.which {
                Macro::Data => quote_spanned!(stored.span()=> #private::DataValue),
                Macro::Resource => quote_spanned!(stored.span()=> #private::ResourceValue),
            };
            // Beside a type parameter's own bounds when the value is one
            // (bounds in two places trip clippy in the user's crate).
            let own = generics
                .type_params_mut()
                .find(|param| matches!(stored, Type::Path(path) if path.qself.is_none() && path.path.is_ident(&param.ident)));
            match own {
                Some(param) => param.bounds.push(parse_quote!(#bound)),
                None => generics
                    .make_where_clause()
                    .predicates
                    .push(parse_quote!(#stored: #bound)),
            }
        }
        generics
    }

    /// The function's identity name: its `name = ..`, or its module path
    /// and name.
    fn identity_name(&self) -> TokenStream {
        match &self.args.name {
            Some(name) => quote!(#name),
            None => {
                let name_text = self.function.item.sig.ident.to_string();
                quote!(::core::concat!(::core::module_path!(), "::", #name_text))
            }
        }
    }

    // Output: the cache's type and its constructor (a `const` expression),
    //     DataCache<Vec<Row>>
    //     DataCache::with_options(Identity { name, code_hash }, || Config::new(ttl, max_entries, persist), ..)
    fn cache_type_and_constructor(&self) -> (TokenStream, TokenStream) {
        let Self {
            which,
            args,
            private,
            function,
            code_hash,
            word,
        } = self;
        let stored = function.stored();
        let cache_path = match (which, self.is_async()) {
            (Macro::Data, false) => quote!(#private::DataCache),
            (Macro::Data, true) => quote!(#private::AsyncDataCache),
            (Macro::Resource, false) => quote!(#private::ResourceCache),
            (Macro::Resource, true) => quote!(#private::AsyncResourceCache),
        };
        // A word function's keys are its words: moka keys it by the `u64`,
        // and its persistent records live under their own id (their key bytes
        // are the word's, not postcard's, so they must never meet records
        // keyed the other way).
        let (cache_type, code_hash) = match word {
            Some(_) => (
                quote!(#cache_path<#stored, #private::Word>),
                *code_hash ^ WORD_KEYS,
            ),
            None => (quote!(#cache_path<#stored>), *code_hash),
        };
        let ttl = match &args.ttl {
            None => quote!(::core::option::Option::None),
            Some(ttl) => duration_tokens(private, ttl),
        };
        let max_entries = match &args.max_entries {
            None => quote!(::core::option::Option::None),
            Some(expr) => {
                quote_spanned!(expr.span()=> ::core::option::Option::Some(#private::entry_count(#expr)))
            }
        };
        let max_size = match &args.max_size {
            None => None,
            Some(MaxSize::Bytes(bytes)) => Some(quote!(::core::option::Option::Some(#bytes))),
            Some(MaxSize::Expr(expr)) => Some(
                quote_spanned!(expr.span()=> ::core::option::Option::Some(#private::byte_count(#expr))),
            ),
        }
        .map(|max_size| quote!(.with_max_size(#max_size)));
        let session = args.session.then(|| quote!(.with_session_scope()));
        let spinner = (args.spinner.is_some() || args.show_time).then(|| {
            let spinner = match &args.spinner {
                None => quote!(#private::Spinner::Default),
                Some(SpinnerArg::Hidden) => quote!(#private::Spinner::Hidden),
                Some(SpinnerArg::Text(text)) => quote!(#private::Spinner::Text(#text)),
            };
            let show_time = args.show_time;
            quote!(.with_spinner(#spinner, #show_time))
        });
        let background = args.background.then(|| {
            let max_stale = match &args.max_stale {
                None => quote!(::core::option::Option::None),
                Some(stale) => duration_tokens(private, stale),
            };
            quote!(.with_background_refresh(#max_stale))
        });
        // An instantiation of a family is named by its family (see
        // `family_member`).
        let instance_name = if function.has_family() {
            quote!(__cache_name)
        } else {
            self.identity_name()
        };
        let identity = quote! {
            #private::Identity { name: #instance_name, code_hash: #code_hash }
        };
        // `persist = "redis"` is checked in a `const`, so a missing `redis`
        // feature is a compile error rather than a panic at the first call.
        let (redis_check, persist) = match &args.persist {
            None => (None, quote!(::core::option::Option::None)),
            Some(Persist::Disk) => (
                None,
                quote!(::core::option::Option::Some(#private::Persist::Disk)),
            ),
            Some(Persist::Redis) => (
                Some(
                    quote!(const __REDIS: ::core::option::Option<#private::Persist> = #private::persist_redis();),
                ),
                quote!(__REDIS),
            ),
            Some(Persist::Auto) => (None, quote!(#private::persist_auto())),
            Some(Persist::Expr(expr)) => (
                None,
                quote_spanned!(expr.span()=> #private::persist_choice(#expr)),
            ),
        };
        let config = quote! {
            || {
                #redis_check
                #private::Config::new(#ttl, #max_entries, #persist) #max_size #background #session #spinner
            }
        };
        let constructor = match which {
            Macro::Data => {
                let persistence = match &args.persist {
                    Some(_) => {
                        // Spanned on the return type: a value that is not
                        // serde-ready is reported there.
                        let persistence =
                            quote_spanned!(stored.span()=> #private::Persistence::postcard());
                        quote!(::core::option::Option::Some(#persistence))
                    }
                    None => quote!(::core::option::Option::None),
                };
                // A value's weight, for `max_size` and the memory budget. A
                // `max_size` value that cannot be weighed is reported on the
                // return type; a `size_with` of the wrong type on its path.
                // Otherwise a value is weighed by its serialized size if it
                // is `Serialize`, else not at all.
                let weigh = match (&args.size_with, &args.max_size) {
                    (Some(path), _) => quote_spanned!(path.span()=>
                        |__value: &#stored| -> ::core::option::Option<usize> {
                            ::core::option::Option::Some(#private::size_with(#path, __value))
                        }
                    ),
                    (None, Some(_)) => quote_spanned!(stored.span()=>
                        |__value: &#stored| -> ::core::option::Option<usize> {
                            ::core::option::Option::Some(#private::serialized_size::<#stored>(__value))
                        }
                    ),
                    (None, None) => quote! {
                        |__value: &#stored| -> ::core::option::Option<usize> {
                            #[allow(unused_imports)]
                            use #private::{WeighNothing as _, WeighSerialized as _};
                            (&#private::WeighProbe(__value)).weight()
                        }
                    },
                };
                quote!(#cache_path::with_options(#identity, #config, #persistence, ::core::option::Option::Some(#weigh)))
            }
            Macro::Resource => {
                let validate = hook(&args.validate);
                let on_release = hook(&args.on_release);
                quote!(#cache_path::new(#identity, #config, #private::Hooks { validate: #validate, on_release: #on_release }))
            }
        };
        (cache_type, constructor)
    }

    // Output:
    //     fn __cache() -> &'static DataCache<Vec<Row>> {
    //         static __CACHE: DataCache<Vec<Row>> = <constructor>;
    //         &__CACHE
    //     }
    // or, for a family (see `family_member`), `__cache_family()` (for a
    // method `__cache_family_NAME()`) holding the `Family` and the accessor
    // (generic like the function) finding the instantiation's cache in it.
    // Nothing for a method of a trait impl: its family is inside it.
    fn static_cache(&self, accessor: &Ident) -> TokenStream {
        let function = self.function;
        let private = &self.private;
        if function.in_trait_impl {
            return TokenStream::new();
        }
        if !function.has_family() {
            let (cache_type, constructor) = self.cache_type_and_constructor();
            return quote! {
                #[doc(hidden)]
                #[allow(clippy::type_complexity)]
                fn #accessor() -> &'static #cache_type {
                    static __CACHE: #cache_type = #constructor;
                    &__CACHE
                }
            };
        }
        let (cache_type, _) = self.cache_type_and_constructor();
        let family_accessor = if function.in_impl {
            format_ident!("__cache_family_{}", function.item.sig.ident)
        } else {
            format_ident!("__cache_family")
        };
        let family = family_static(private);
        let member = self.family_member(&quote!(Self::#family_accessor()));
        let generics = self.generics();
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        quote! {
            #[doc(hidden)]
            fn #family_accessor() -> &'static #private::Family {
                #family
                &__CACHE_FAMILY
            }

            #[doc(hidden)]
            #[allow(clippy::type_complexity)]
            fn #accessor #impl_generics () -> &'static #cache_type #where_clause {
                #member
            }
        }
    }

    // Output, given the family `family` (an expression):
    //     family.member::<(T,), DataCache<Vec<T>>>("my_app::top", &[type_name::<T>()], |__cache_name| <constructor>)
    // or, for a method,
    //     family.method_member::<(), DataCache<Vec<T>>>(type_name::<Self>(), "peek", None, &[], |__cache_name| <constructor>)
    // The cache of this call's instantiation, made the first time.
    fn family_member(&self, family: &TokenStream) -> TokenStream {
        let function = self.function;
        let private = &self.private;
        let (cache_type, constructor) = self.cache_type_and_constructor();
        let type_params = function.type_params();
        let types = quote!(&[#(::core::any::type_name::<#type_params>()),*]);
        let make = quote!(|__cache_name: &'static ::core::primitive::str| #constructor);
        if function.in_impl {
            let method = function.item.sig.ident.to_string();
            let name = match &self.args.name {
                Some(name) => quote!(::core::option::Option::Some(#name)),
                None => quote!(::core::option::Option::None),
            };
            quote! {
                #private::Family::method_member::<(#(#type_params,)*), #cache_type>(
                    #family,
                    ::core::any::type_name::<Self>(),
                    #method,
                    #name,
                    #types,
                    #make,
                )
            }
        } else {
            let identity_name = self.identity_name();
            quote! {
                #private::Family::member::<(#(#type_params,)*), #cache_type>(
                    #family,
                    #identity_name,
                    #types,
                    #make,
                )
            }
        }
    }

    // Output:
    //     |__cache_key: &mut KeyWriter| { __cache_key.write("table", &table)?; ..; KEY_OK }
    // or, for a word function, `{ __cache_key.write_word(<word>); KEY_OK }`.
    fn write_key(&self) -> TokenStream {
        let private = &self.private;
        if let Some(word) = &self.word {
            return quote! {
                |__cache_key: &mut #private::KeyWriter| {
                    __cache_key.write_word(#word);
                    #private::KEY_OK
                }
            };
        }
        let writes = keys::key_writes(self.function, &self.args.hash_funcs);
        let session = self.args.session.then(|| {
            let name = self.identity_name();
            quote!(__cache_key.write_session(#name);)
        });
        quote! {
            |__cache_key: &mut #private::KeyWriter| {
                #session
                #(#writes)*
                #private::KEY_OK
            }
        }
    }

    // Output:
    //     load_rows::__cache().lookup_front(<write_key>)
    // or `lookup_word(<packed arguments>, <write_key>)` when the arguments
    // pack into one word, `{ thread_local!(__CACHE_SOLO); lookup_solo(..) }`
    // when there are none, or `lookup(<write_key>)` with `front = false`.
    fn lookup(&self, reach: &TokenStream) -> TokenStream {
        let Self { args, function, .. } = self;
        let stored = function.stored();
        let write_key = self.write_key();
        // On the value's type: a `cache_data` value that is not `Clone` is
        // reported there, once, by the lookup's bound.
        let method = |name: &str| Ident::new(name, stored.span());
        if args.no_front {
            let lookup = method("lookup");
            return quote!(#reach.#lookup(#write_key));
        }
        match &self.word {
            // No key arguments: one entry, held per thread in a
            // `thread_local!` of the function's own, tried first.
            Some(_) if function.key_params().next().is_none() => {
                let private = &self.private;
                let solo = match self.which {
                    Macro::Data => quote!(#private::Solo<#stored>),
                    Macro::Resource => {
                        quote!(#private::Solo<#private::Shared<#stored>, #private::Arc<#stored>>)
                    }
                };
                let lookup = method("lookup_solo");
                quote!({
                    ::std::thread_local! {
                        static __CACHE_SOLO: #solo = const { #private::Solo::new() };
                    }
                    #reach.#lookup(&__CACHE_SOLO, #write_key)
                })
            }
            Some(word) => {
                let lookup = method("lookup_word");
                quote!(#reach.#lookup(#word, #write_key))
            }
            None => {
                let lookup = method("lookup_front");
                quote!(#reach.#lookup(#write_key))
            }
        }
    }

    // Output:
    //     pub fn load_rows(table: &str, limit: u32) -> Result<Vec<Row>, DbError> {
    //         <checks that Vec<Row> is Clone>
    //         load_rows::__cache()
    //             .lookup(|key| { key.write("table", &table)?; key.write("limit", &limit)?; OK })
    //             .or_try_compute(move || -> Result<Vec<Row>, DbError> { <body statements> })
    //     }
    // The wrapper keeps the user's attributes, visibility and signature;
    // pattern parameters become plain bindings, resources return `Arc<T>`.
    fn wrapper(&self, reach: &TokenStream) -> TokenStream {
        let Self {
            which,
            private,
            function,
            ..
        } = self;
        let item_fn = &function.item;
        let stored = function.stored();
        let is_async = self.is_async();
        let is_result = matches!(function.output, Output::Result { .. });
        let declared_output: Type = match &item_fn.sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };

        // Spanned on the user's tokens so errors land there. (Arguments are
        // checked by `KeyWriter::write`'s `KeyArgument` bound; a data value by
        // the bound of the `or_compute` call, spanned on its type below.)
        let value_check = match which {
            Macro::Data => None,
            Macro::Resource => {
                Some(quote_spanned!(stored.span()=> #private::resource_value::<#stored>();))
            }
        };

        // The body, re-binding parameters the user wrote as patterns.
        let rebinds = function.params.iter().filter_map(|param| {
            let pattern = param.pattern.as_ref()?;
            let binding = &param.binding;
            Some(quote!(let #pattern = #binding;))
        });
        // The user's statements are spliced, not their block: `{ { x * 2 } }` would
        // trip `unused_braces` in the user's crate. Each statement keeps its spans.
        let stmts = &item_fn.block.stmts;
        // `refresh_mode = "background"`: the body gets its own copies of the
        // arguments (made only on a miss or a refresh), so it can run after
        // the call returned.
        let (owned, reborrows) = if self.args.background {
            owned_arguments(private, function)
        } else {
            (Vec::new(), Vec::new())
        };
        let compute = if is_async {
            quote!(move || #private::pin_output::<#declared_output, _>(async move { #(#reborrows)* #(#rebinds)* #(#stmts)* }))
        } else {
            quote!(move || -> #declared_output { #(#reborrows)* #(#rebinds)* #(#stmts)* })
        };
        let compute = if self.args.background {
            quote!(|| { #(#owned)* #compute })
        } else {
            compute
        };
        // An async body that owns its arguments can outlive the caller that
        // started it: its computation is shared, and survives that caller's
        // cancellation. A body borrowing its caller's arguments cannot, and a
        // recursive one could not be proven `Send`.
        let shared = is_async && function.owns_its_arguments() && !function.mentions_itself();
        let finish = match (is_result, shared) {
            _ if self.args.background && is_result => "or_try_compute_refreshing",
            _ if self.args.background => "or_compute_refreshing",
            (false, false) => "or_compute",
            (true, false) => "or_try_compute",
            (false, true) => "or_compute_shared",
            (true, true) => "or_try_compute_shared",
        };
        // On the value's type: a `cache_data` value that is not `Clone` is
        // reported there, once, by this method's bound.
        let finish = Ident::new(finish, stored.span());
        let lookup = self.lookup(reach);
        let call = if is_async {
            quote!(#lookup.#finish(#compute).await)
        } else {
            quote!(#lookup.#finish(#compute))
        };

        let mut wrapper_sig = item_fn.sig.clone();
        // A trait impl's method keeps the trait's bounds (`valid` rejected
        // its type parameters).
        if !function.in_trait_impl {
            wrapper_sig.generics = self.generics();
        }
        for (input, param) in wrapper_sig
            .inputs
            .iter_mut()
            .filter_map(typed)
            .zip(&function.params)
        {
            if param.pattern.is_some() {
                *input.pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: param.binding.clone(),
                    subpat: None,
                });
            }
        }
        if *which == Macro::Resource {
            let arc = |ty: &Type| -> Type { parse_quote!(#private::Arc<#ty>) };
            if let ReturnType::Type(_, ty) = &mut wrapper_sig.output {
                if let Some(slot) = item::ok_slot(ty) {
                    *slot = arc(slot);
                } else {
                    **ty = arc(ty);
                }
            } else {
                wrapper_sig.output = parse_quote!(-> #private::Arc<()>);
            }
        }
        let attrs = &item_fn.attrs;
        let vis = &item_fn.vis;
        quote! {
            #(#attrs)*
            #vis #wrapper_sig {
                #value_check
                #call
            }
        }
    }

    // Output (free functions):
    //     /// Cache controls for `load_rows`.
    //     pub struct load_rows {}
    //     impl load_rows {
    //         <static_cache>
    //         pub fn clear() / invalidate(table: &str, limit: u32) -> bool / stats() -> Stats
    //     }
    // Methods: `<static_cache>`, `NAME_cache_clear()`, `NAME_cache_invalidate(..)`
    // and `NAME_cache_stats()` beside the wrapper in the user's impl block.
    fn handle(
        &self,
        reach: &TokenStream,
        reach_all: &TokenStream,
        accessor: &Ident,
    ) -> TokenStream {
        let Self {
            which,
            private,
            function,
            ..
        } = self;
        let item_fn = &function.item;
        let name = &item_fn.sig.ident;
        let vis = &item_fn.vis;
        if function.in_trait_impl {
            // A trait impl holds the trait's items only: its controls are
            // reached by name (`cache_runtime::function(..)`).
            return TokenStream::new();
        }
        let accessor_fn = self.static_cache(accessor);
        let type_params = function.type_params();
        // Turbofished: a type parameter only the output mentions is not inferred.
        let turbofish = (!type_params.is_empty()).then(|| quote!(::<#(#type_params),*>));
        let write_key = self.write_key();
        let generics = self.generics();
        let lifetimes = &generics;
        let where_clause = &generics.where_clause;
        let invalidate_params = function.key_params().map(|param| {
            let binding = &param.binding;
            let ty = &param.ty;
            quote!(#binding: #ty)
        });
        let invalidate_receiver = function.self_in_key().then(|| {
            let receiver = &function
                .receiver
                .as_ref()
                .expect("self_in_key implies a receiver")
                .receiver;
            let reference = &receiver
                .reference
                .as_ref()
                .map(|(and, lifetime)| quote!(#and #lifetime));
            quote!(#reference self,)
        });
        let macro_name = which.name();
        // `warm(..)` takes every parameter, as the function does.
        let warm_params: Vec<TokenStream> = function
            .params
            .iter()
            .map(|param| {
                let binding = &param.binding;
                let ty = &param.ty;
                quote!(#binding: #ty)
            })
            .collect();
        let warm_args: Vec<&Ident> = function.params.iter().map(|param| &param.binding).collect();
        let declared_output: Type = match &item_fn.sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        let (warm_async, warm_await) = if self.is_async() {
            (quote!(async), quote!(.await))
        } else {
            (quote!(), quote!())
        };
        // Given the call, the body of `warm`: the value dropped, an error kept.
        let (warm_output, warm_body): (TokenStream, fn(TokenStream) -> TokenStream) = match function
            .output
        {
            Output::Result { .. } => (
                quote!(-> ::core::result::Result<(), <#declared_output as #private::Fallible>::Error>),
                |call| quote!(::core::result::Result::map(#call, |_| ())),
            ),
            Output::Plain(_) => (quote!(), |call| quote!(let _ = #call;)),
        };
        if function.in_impl {
            let clear = format_ident!("{}_cache_clear", name);
            let invalidate = format_ident!("{}_cache_invalidate", name);
            let stats = format_ident!("{}_cache_stats", name);
            let clear_doc = format!(
                "Removes every cached value of [`Self::{name}`] (`#[{macro_name}]`; of every instantiation, for a generic one)."
            );
            let invalidate_doc = format!(
                "Removes the cached value of [`Self::{name}`] for these arguments; `true` if there was one."
            );
            let stats_doc = format!(
                "Hits, misses, entries and compute time of [`Self::{name}`] (summed over its instantiations, for a generic one)."
            );
            let warm = format_ident!("{}_cache_warm", name);
            let warm_doc = format!(
                "Computes and stores the value of [`Self::{name}`] for these arguments if it is not cached yet, \
                 without returning it (a `Result` function returns its error)."
            );
            let (warm_receiver, warm_self) = match &function.receiver {
                Some(receiver) => {
                    let receiver = &receiver.receiver;
                    (quote!(#receiver,), quote!(self,))
                }
                None => (quote!(), quote!()),
            };
            let warm_method_body =
                warm_body(quote!(Self::#name #turbofish (#warm_self #(#warm_args),*) #warm_await));
            quote! {
                #accessor_fn

                #[doc = #warm_doc]
                #[allow(dead_code, clippy::needless_pass_by_value)]
                #vis #warm_async fn #warm #lifetimes (#warm_receiver #(#warm_params),*) #warm_output #where_clause {
                    #warm_method_body
                }

                #[doc = #clear_doc]
                #[allow(dead_code)]
                #vis fn #clear() {
                    #reach_all.clear()
                }

                #[doc = #invalidate_doc]
                #[allow(dead_code, clippy::needless_pass_by_value)]
                #vis fn #invalidate #lifetimes (#invalidate_receiver #(#invalidate_params),*) -> ::core::primitive::bool #where_clause {
                    #reach.invalidate(#write_key)
                }

                #[doc = #stats_doc]
                #[allow(dead_code)]
                #vis fn #stats() -> #private::Stats {
                    #reach_all.stats()
                }
            }
        } else {
            let warm_free_body = warm_body(quote!(#name #turbofish (#(#warm_args),*) #warm_await));
            let handle_doc = format!(
                "Cache controls for [`{name}()`](fn@{name}) (`#[{macro_name}]`): `{name}::clear()`, \
                 `{name}::invalidate(..)`, `{name}::warm(..)` and `{name}::stats()`."
            );
            quote! {
                #[doc = #handle_doc]
                #[allow(non_camel_case_types)]
                #[derive(::core::fmt::Debug)]
                #vis struct #name {}

                #[allow(dead_code)]
                impl #name {
                    #accessor_fn

                    /// Removes every cached value of this function (of every
                    /// instantiation, for a generic one).
                    #vis fn clear() {
                        #reach_all.clear()
                    }

                    /// Removes the cached value for these arguments (the arguments
                    /// that are part of the key, in order); `true` if there was one.
                    #[allow(clippy::needless_pass_by_value)]
                    #vis fn invalidate #lifetimes (#(#invalidate_params),*) -> ::core::primitive::bool #where_clause {
                        #reach.invalidate(#write_key)
                    }

                    /// Hits, misses, entries and compute time of this function
                    /// (summed over its instantiations, for a generic one).
                    #vis fn stats() -> #private::Stats {
                        #reach_all.stats()
                    }

                    /// Computes and stores the value for these arguments (all of the
                    /// function's) if it is not cached yet, without returning it (a
                    /// `Result` function returns its error).
                    #[allow(clippy::needless_pass_by_value)]
                    #vis #warm_async fn warm #lifetimes (#(#warm_params),*) #warm_output #where_clause {
                        #warm_free_body
                    }
                }
            }
        }
    }
}

/// `static __CACHE_FAMILY: Family`, a family's `static`.
fn family_static(private: &TokenStream) -> TokenStream {
    quote! {
        static __CACHE_FAMILY: #private::Family = #private::Family::new();
    }
}

/// `generics` with `T: 'static` for each type parameter: an instantiation's
/// cache is found by its types' `TypeId`s, and holds values for good.
fn static_generics(generics: &syn::Generics) -> syn::Generics {
    let mut generics = generics.clone();
    // Beside the parameter's own bounds (where the user's are), not in a
    // `where` clause: bounds in two places trip clippy in the user's crate.
    for param in generics.type_params_mut() {
        param.bounds.push(parse_quote!('static));
    }
    generics
}

/// A duration argument as an `Option<Duration>` expression.
fn duration_tokens(private: &TokenStream, duration: &Ttl) -> TokenStream {
    match duration {
        Ttl::Nanos(nanos) => {
            let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
            let subsec = (nanos % 1_000_000_000) as u32;
            quote!(::core::option::Option::Some(#private::Duration::new(#secs, #subsec)))
        }
        Ttl::Expr(expr) => quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr)),
    }
}

// Output, per parameter (`name: &str`, `n: u32`):
//     let __cache_own_name = ToOwned::to_owned(name);    |  let name: &str = Borrow::borrow(&__cache_own_name);
//     let __cache_own_n = own_argument(&n);               |  let n = __cache_own_n;
// The first statements make the copies, the second (inside the body) bind
// the parameters to them. `valid` rejected parameters that cannot be owned.
fn owned_arguments(
    private: &TokenStream,
    function: &Function,
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut owned = Vec::new();
    let mut reborrows = Vec::new();
    for param in &function.params {
        let binding = &param.binding;
        let copy = format_ident!("__cache_own_{}", binding);
        match &param.ty {
            Type::Reference(reference) => {
                let elem = &reference.elem;
                owned.push(quote_spanned!(param.ty.span()=> let #copy = #private::own_borrowed::<#elem>(#binding);));
                reborrows
                    .push(quote!(let #binding: &#elem = ::core::borrow::Borrow::borrow(&#copy);));
            }
            ty => {
                owned.push(quote_spanned!(ty.span()=> let #copy = #private::own_argument::<#ty>(&#binding);));
                reborrows.push(quote!(let #binding = #copy;));
            }
        }
    }
    (owned, reborrows)
}

fn typed(input: &mut FnArg) -> Option<&mut syn::PatType> {
    match input {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    }
}

fn hook(path: &Option<syn::Expr>) -> TokenStream {
    match path {
        None => quote!(::core::option::Option::None),
        Some(expr) => quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr)),
    }
}
