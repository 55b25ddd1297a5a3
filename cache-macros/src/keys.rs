//! How the generated code keys a call: which bytes each argument adds to
//! the key, and when the arguments pack into one word instead.
//!
//! Arguments of a few written types get direct writers that produce exactly
//! postcard's bytes without going through serde (strings, integers, byte and
//! float slices); the runtime's tests check they equal postcard. Types are
//! known here only as written: an alias takes the general (serde) path,
//! which gives the same bytes, only slower.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::args::HashFuncs;
use crate::item::{self, Function, KeyMode, Param};

/// The key arguments packed into one `u64`, when every one is an integer,
/// `bool` or `char` keyed by value and their widths add up to 64 bits or
/// fewer: `bits(a) << width(b) | bits(b)`, injective for the function's
/// fixed parameter types. A thread's front table is then searched by the
/// word and no key bytes are written on a hit. `None` for anything else,
/// and inside an `impl` (the key also names `Self` there).
pub(crate) fn packed_word(
    function: &Function,
    hash_funcs: &HashFuncs,
    private: &TokenStream,
) -> Option<TokenStream> {
    if function.in_impl || function.receiver.is_some() {
        return None;
    }
    let mut parts = Vec::new();
    let mut total = 0;
    for param in function.key_params() {
        if !matches!(param.key, KeyMode::Value) || hash_funcs_write(hash_funcs, param).is_some() {
            return None;
        }
        let width = word_width(&param.ty)?;
        let primitive = Ident::new(&primitive(&param.ty)?, Span::call_site());
        total += width;
        parts.push((width, primitive, &param.binding));
    }
    if total > 64 {
        return None;
    }
    let mut shift = total;
    let terms = parts.into_iter().map(|(width, primitive, binding)| {
        shift -= width;
        // The primitive named in full: a user type that shadows `u32` is a
        // type error here, not a silently different width.
        let bits = quote!(<::core::primitive::#primitive as #private::WordPart>::bits(#binding));
        if shift == 0 {
            bits
        } else {
            quote!((#bits << #shift))
        }
    });
    Some(quote!(0 #(| #terms)*))
}

/// The width in bits of a word-packable written type.
fn word_width(ty: &Type) -> Option<u32> {
    Some(match primitive(ty)?.as_str() {
        "bool" => 1,
        "u8" | "i8" => 8,
        "u16" | "i16" => 16,
        "char" => 21,
        "u32" | "i32" => 32,
        "u64" | "i64" | "usize" | "isize" => 64,
        _ => return None,
    })
}

/// A written type that is a single identifier (`u64`, `String`), as text.
fn primitive(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.get_ident().map(Ident::to_string),
        Type::Paren(paren) => primitive(&paren.elem),
        Type::Group(group) => primitive(&group.elem),
        _ => None,
    }
}

/// How a written slice-like type holds its elements.
enum Holder {
    /// `&[T]`.
    SliceRef,
    /// `Vec<T>`.
    Vec,
    /// `&Vec<T>`.
    VecRef,
}

/// The element type of a written `&[T]`, `Vec<T>` or `&Vec<T>`.
fn slice_element(ty: &Type) -> Option<(Holder, String)> {
    let (ty, by_ref) = match ty {
        Type::Reference(reference) => (&*reference.elem, true),
        other => (other, false),
    };
    match ty {
        Type::Slice(slice) if by_ref => Some((Holder::SliceRef, primitive(&slice.elem)?)),
        Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            let segment = &path.path.segments[0];
            let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
                return None;
            };
            match (segment.ident == "Vec", args.args.first(), args.args.len()) {
                (true, Some(syn::GenericArgument::Type(elem)), 1) => {
                    let holder = if by_ref { Holder::VecRef } else { Holder::Vec };
                    Some((holder, primitive(elem)?))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A direct writer for a by-value parameter of a recognised written type.
/// Every type is named in full in the call (`::core::primitive::u32`,
/// `::std::string::String`), so a user type that shadows one of those names
/// is a type error rather than a silently different key.
fn direct_write(param: &Param) -> Option<TokenStream> {
    let binding = &param.binding;
    let span = param.ty.span();
    if let Some(name) = primitive(&param.ty) {
        let ty = Ident::new(&name, span);
        let write = match name.as_str() {
            "String" => {
                quote_spanned!(span=> __cache_key.write_str(::std::string::String::as_str(&#binding));)
            }
            "u16" | "u32" | "u64" | "usize" => {
                quote_spanned!(span=> __cache_key.write_varint::<::core::primitive::#ty>(#binding);)
            }
            "i16" | "i32" | "i64" | "isize" => {
                quote_spanned!(span=> __cache_key.write_signed::<::core::primitive::#ty>(#binding);)
            }
            "u8" | "i8" | "bool" => {
                quote_spanned!(span=> __cache_key.write_byte::<::core::primitive::#ty>(#binding);)
            }
            _ => return None,
        };
        return Some(write);
    }
    if let Type::Reference(reference) = &param.ty {
        match primitive(&reference.elem).as_deref() {
            Some("str") => {
                return Some(quote_spanned!(span=> __cache_key.write_str(#binding);));
            }
            Some("String") => {
                return Some(
                    quote_spanned!(span=> __cache_key.write_str(::std::string::String::as_str(#binding));),
                );
            }
            _ => {}
        }
    }
    let (holder, element) = slice_element(&param.ty)?;
    let method = match element.as_str() {
        "u8" => quote_spanned!(span=> write_u8s),
        "f64" => quote_spanned!(span=> write_f64s),
        "f32" => quote_spanned!(span=> write_f32s),
        _ => return None,
    };
    let element = Ident::new(&element, span);
    let slice = match holder {
        Holder::SliceRef => quote_spanned!(span=> #binding),
        Holder::Vec => {
            quote_spanned!(span=> ::std::vec::Vec::<::core::primitive::#element>::as_slice(&#binding))
        }
        Holder::VecRef => {
            quote_spanned!(span=> ::std::vec::Vec::<::core::primitive::#element>::as_slice(#binding))
        }
    };
    Some(quote_spanned!(span=> __cache_key.#method(#slice);))
}

/// `__cache_key.write("name", &value)?;` for `self` and every key parameter.
pub(crate) fn key_writes(function: &Function, hash_funcs: &HashFuncs) -> Vec<TokenStream> {
    let mut writes = Vec::new();
    if function.in_impl {
        // One static serves every instantiation of a generic impl: the
        // concrete `Self` type is part of the key.
        writes.push(quote!(__cache_key.write("Self", ::core::any::type_name::<Self>())?;));
    }
    if let Some(receiver) = &function.receiver {
        let self_token = Ident::new("self", receiver.receiver.self_token.span);
        match &receiver.key {
            // Spanned on the user's tokens: a type error lands there, not on the attribute.
            KeyMode::Value => writes.push(quote_spanned!(receiver.receiver.span()=> __cache_key.write("self", &#self_token)?;)),
            KeyMode::HashWith(path) => {
                writes.push(quote_spanned!(path.span()=> __cache_key.write("self", &(#path)(&#self_token))?;))
            }
            KeyMode::Skip => {}
        }
    }
    for param in &function.params {
        let binding = &param.binding;
        let label = binding.to_string();
        match &param.key {
            // `hash_with` wins over `hash_funcs`: only by-value parameters are looked up.
            KeyMode::Value => writes.push(
                hash_funcs_write(hash_funcs, param)
                    .or_else(|| direct_write(param))
                    .unwrap_or_else(
                        || quote_spanned!(param.ty.span()=> __cache_key.write(#label, &#binding)?;),
                    ),
            ),
            KeyMode::HashWith(path) => writes.push(
                quote_spanned!(path.span()=> __cache_key.write(#label, &(#path)(&#binding))?;),
            ),
            KeyMode::Skip => {}
        }
    }
    writes
}

/// The key write of a by-value parameter a `hash_funcs` entry applies to
/// (`None`: keyed by value). `valid` has rejected entries it cannot reach.
fn hash_funcs_write(hash_funcs: &HashFuncs, param: &Param) -> Option<TokenStream> {
    let binding = &param.binding;
    let shape = item::shape(&param.ty, &hash_funcs.entries, &mut Vec::new());
    // When `hash_funcs` could not be read (already reported), a parameter of
    // a type it may have named is left out of the key rather than adding a
    // `Serialize` error: the attribute's mistake stays the only error.
    let quiet = quote!(let _ = &#binding;);
    let Some(entry) = shape.entry() else {
        return hash_funcs.malformed.then_some(quiet);
    };
    let Some(func) = &hash_funcs.entries[entry].func else {
        return Some(quiet);
    };
    let label = binding.to_string();
    Some(mapped_write(
        &label,
        binding,
        false,
        &shape,
        func,
        param.ty.span(),
        0,
    ))
}

/// The key of `value` (the parameter, or a reference to an item inside it)
/// for `shape`: each value of the entry's type keyed by what `func` returns,
/// inside postcard's own framing of an `Option` (a `bool`) and a sequence
/// (its length), so the key is written without collecting anything.
fn mapped_write(
    label: &str,
    value: &Ident,
    is_ref: bool,
    shape: &item::Shape,
    func: &syn::ExprPath,
    ty_span: Span,
    depth: usize,
) -> TokenStream {
    match shape {
        item::Shape::Value => {
            let reference = (!is_ref).then(|| quote!(&));
            quote_spanned!(ty_span=> __cache_key.write(#label, #reference #value)?;)
        }
        item::Shape::Entry { refs, .. } => {
            // The argument is located on the entry's path too, so a function
            // with the wrong signature is reported there.
            let span = func.span();
            let mut value = value.clone();
            value.set_span(value.span().located_at(span));
            // Exactly a `&T`, as the function is documented to take: `&value`,
            // `value` or `*value` as the written type needs.
            let argument = match refs + usize::from(is_ref) {
                0 => quote_spanned!(span=> &#value),
                depth => {
                    let derefs = (1..depth).map(|_| quote_spanned!(span=> *));
                    quote_spanned!(span=> #(#derefs)* #value)
                }
            };
            quote_spanned!(span=> __cache_key.write(#label, &(#func)(#argument))?;)
        }
        item::Shape::Option(inner) | item::Shape::Seq(inner) => {
            let item = format_ident!("__cache_item{}", depth);
            let body = mapped_write(label, &item, true, inner, func, ty_span, depth + 1);
            let frame = if matches!(shape, item::Shape::Option(_)) {
                quote_spanned!(ty_span=> #value.is_some())
            } else {
                quote_spanned!(ty_span=> #value.len())
            };
            quote_spanned! {ty_span=>
                __cache_key.write(#label, &#frame)?;
                for #item in #value.iter() {
                    #body
                }
            }
        }
    }
}
