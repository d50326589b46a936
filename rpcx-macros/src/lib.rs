//! Procedural macros of [rpcx](https://docs.rs/rpcx): `#[derive(Codable)]` and
//! `#[service]`. Use them through the `rpcx` crate (`#[derive(rpcx::Codable)]`,
//! `#[rpcx::service]`): the generated code names `::rpcx`, so a crate that depends on `rpcx`
//! alone can use them.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, DeriveInput, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, LitStr, Meta,
    PathArguments, ReturnType, Token, Type, Visibility,
};

/// Implements `rpcx::codec::Codable` for a struct or enum, so it can be the arguments or the
/// reply of an rpcx method, encoded with whichever serialization a caller picks.
///
/// The serializations come from the type's other derives:
///
/// * serde (`Serialize` + `Deserialize`): JSON, MsgPack, Thrift and registered codecs;
/// * `prost::Message`: Protobuf;
/// * both: all of them, so one handler answers callers of every serialization.
///
/// A type that is neither is a compile error. A request in a serialization the type lacks
/// gets Go's error text (`… is not a proto.Marshaler or pb.Message`, `… is not a []byte`).
///
/// Go peers expect Go's field names: `#[serde(rename_all = "PascalCase")]` or `rename`.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, rpcx::Codable)]
/// #[serde(rename_all = "PascalCase")]
/// struct Args {
///     a: i64,
///     b: i64,
/// }
///
/// use rpcx::protocol::SerializeType;
/// let json = rpcx::codec::encode(&Args { a: 1, b: 2 }, SerializeType::JSON).unwrap();
/// assert_eq!(json, br#"{"A":1,"B":2}"#);
/// ```
///
/// A prost message (for instance from `prost-build`, with
/// `.type_attribute(".", "#[derive(rpcx::Codable)]")`):
///
/// ```
/// #[derive(Clone, PartialEq, prost::Message, rpcx::Codable)]
/// struct ProtoArgs {
///     #[prost(int64, tag = "1")]
///     a: i64,
/// }
///
/// use rpcx::protocol::SerializeType;
/// let bytes = rpcx::codec::encode(&ProtoArgs { a: 1 }, SerializeType::PROTOBUF).unwrap();
/// assert_eq!(bytes, [8, 1]);
/// assert!(rpcx::codec::encode(&ProtoArgs { a: 1 }, SerializeType::JSON).is_err());
/// ```
///
/// Which serializations a type has is found from its trait implementations, which works for
/// types without generic parameters. A generic type says it with `#[rpcx(serde)]`,
/// `#[rpcx(protobuf)]` or `#[rpcx(serde, protobuf)]` (serde when it says nothing); any type may
/// say it, which turns a missing derive into an error naming the missing trait:
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, rpcx::Codable)]
/// #[rpcx(serde)]
/// struct Page<T> {
///     items: Vec<T>,
/// }
///
/// let page = Page { items: vec![1u8, 2] };
/// let json = rpcx::codec::encode(&page, rpcx::protocol::SerializeType::JSON).unwrap();
/// assert_eq!(json, br#"{"items":[1,2]}"#);
/// ```
#[proc_macro_derive(Codable, attributes(rpcx))]
pub fn derive_codable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    derive_codable_impl(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The serializations `#[rpcx(...)]` names on a derived type.
#[derive(Default)]
struct CodecChoice {
    serde: bool,
    protobuf: bool,
}

fn parse_codec_choice(attrs: &[Attribute]) -> syn::Result<Option<CodecChoice>> {
    let mut choice: Option<CodecChoice> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("rpcx")) {
        let c = choice.get_or_insert_with(CodecChoice::default);
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("serde") {
                c.serde = true;
                Ok(())
            } else if meta.path.is_ident("protobuf") {
                c.protobuf = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown rpcx option: `#[rpcx(...)]` on a type takes `serde`, `protobuf` or both",
                ))
            }
        })?;
    }
    Ok(choice)
}

fn derive_codable_impl(input: DeriveInput) -> syn::Result<TokenStream2> {
    let choice = parse_codec_choice(&input.attrs)?;
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let generic = !input.generics.params.is_empty();
    let span = name.span();
    let codable = quote!(::rpcx::codec::Codable);
    let st = quote!(::rpcx::protocol::SerializeType);
    let err = quote!(::rpcx::codec::CodecError);

    let (encode, decode, bounds) = match choice {
        None if !generic => {
            let pick = quote_spanned! {span=>
                #[allow(unused_imports)]
                use ::rpcx::__private::{ProstNo as _, ProstYes as _, SerdeNo as _, SerdeYes as _};
                let probe = ::rpcx::__private::Probe::<Self>::new();
                let codecs = ((&&probe).__rpcx_serde(), (&&probe).__rpcx_prost());
            };
            (
                quote_spanned! {span=>
                    #pick
                    ::rpcx::__private::Codecs::<Self>::encode(codecs, self, st, out)
                },
                quote_spanned! {span=>
                    #pick
                    ::rpcx::__private::Codecs::<Self>::decode(codecs, st, bytes)
                },
                quote!(),
            )
        }
        choice => {
            let c = choice.unwrap_or(CodecChoice {
                serde: true,
                protobuf: false,
            });
            let serde_bound = quote_spanned!(span=> ::rpcx::__private::serde::Serialize + ::rpcx::__private::serde::de::DeserializeOwned);
            let proto_bound =
                quote_spanned!(span=> ::rpcx::__private::prost::Message + ::core::default::Default);
            let (enc, dec, bound) = match (c.serde, c.protobuf) {
                (true, true) => (
                    quote!(serde_proto_encode_as),
                    quote!(serde_proto_decode_as),
                    quote!(#serde_bound + #proto_bound),
                ),
                (false, true) => (
                    quote!(proto_encode_as),
                    quote!(proto_decode_as),
                    proto_bound,
                ),
                _ => (
                    quote!(serde_encode_as),
                    quote!(serde_decode_as),
                    serde_bound,
                ),
            };
            (
                quote_spanned!(span=> ::rpcx::codec::#enc(self, st, out)),
                quote_spanned!(span=> ::rpcx::codec::#dec(st, bytes)),
                quote!(#name #ty_generics: #bound + ::core::marker::Send + 'static,),
            )
        }
    };
    let where_clause = match where_clause {
        Some(w) => {
            let preds = &w.predicates;
            // `where A: X,` (rustfmt's style) already ends in a comma: adding one gives `,,`.
            if preds.empty_or_trailing() {
                quote!(where #preds #bounds)
            } else {
                quote!(where #preds, #bounds)
            }
        }
        None if bounds.is_empty() => quote!(),
        None => quote!(where #bounds),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #codable for #name #ty_generics #where_clause {
            fn encode_as(
                &self,
                st: #st,
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), #err> {
                #encode
            }

            fn decode_as(st: #st, bytes: &[u8]) -> ::core::result::Result<Self, #err> {
                #decode
            }
        }
    })
}

/// Turns an `impl` block into an rpcx service: a server registers it in one call, and typed
/// clients call it, from Rust, Go, C, C++ or Python alike.
///
/// Every `pub fn` and `pub async fn` of the block becomes a method named as Go names it
/// (`mul` → `Mul`, `get_user` → `GetUser`; `#[rpcx(name = "...")]` picks another name,
/// `#[rpcx(skip)]` leaves a `pub` function out). Other functions are left alone. A method:
///
/// * takes `&self` or no receiver (never `&mut self`: calls run concurrently on one shared
///   object, so mutable state goes behind a `Mutex` or atomics);
/// * takes its arguments as one value, optionally after a `rpcx::server::Context`
///   (`fn mul(&self, args: Args)` or `fn mul(&self, ctx: Context, args: Args)`), which
///   implements `rpcx::codec::Codable` (see [`derive@Codable`]);
/// * returns a `Codable` reply `R`, or `Result<R, E>` whose `E: Display` reaches the caller as
///   the service error's text (an `rpcx::server::ServiceError` is passed on as is);
/// * is sync or async. A sync method runs on tokio's blocking thread pool, so it may block
///   without stalling the server.
///
/// The service is named after the type (`Arith`), or `#[rpcx::service(name = "...")]`.
///
/// Generated, for `impl Arith`:
///
/// * `rpcx::server::Service` and `rpcx::server::NamedService` for `Arith`:
///   `server.register_service(Arith)` (or `server.register_object("Name", Arc::new(Arith))`
///   under another name);
/// * `ArithClient<C = rpcx::client::Client>`, generic over `rpcx::client::Caller` (a `Client`
///   or an `XClient` of the service): `ArithClient::new(client)`, one `async fn` per method
///   taking `&Args` and returning `Result<R, rpcx::Error>` (`client.mul(&args).await?`), and
///   `mul_with(&args, CallOptions)` returning the reply with the response metadata;
/// * `ArithBlockingClient<C = rpcx::blocking::Client>`, the same calls blocking, for code
///   without an async runtime.
///
/// ```
/// use rpcx::server::{Context, Server};
///
/// #[derive(serde::Serialize, serde::Deserialize, rpcx::Codable)]
/// #[serde(rename_all = "PascalCase")]
/// pub struct Args { a: i64, b: i64 }
///
/// #[derive(Debug, serde::Serialize, serde::Deserialize, rpcx::Codable)]
/// #[serde(rename_all = "PascalCase")]
/// pub struct Reply { c: i64 }
///
/// pub struct Arith;
///
/// #[rpcx::service]
/// impl Arith {
///     /// `Arith.Mul`, sync.
///     pub fn mul(&self, args: Args) -> Reply {
///         Reply { c: args.a * args.b }
///     }
///
///     /// `Arith.Div`, async, with the call's context and an error for the caller.
///     pub async fn div(&self, _ctx: Context, args: Args) -> Result<Reply, String> {
///         if args.b == 0 {
///             return Err("divide by zero".into());
///         }
///         Ok(Reply { c: args.a / args.b })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rpcx::Error> {
/// let mut server = Server::builder().build();
/// server.register_service(Arith)?;
/// let handle = server.serve("tcp@127.0.0.1:0").await?;
///
/// let client = rpcx::client::Client::connect(&handle.local_address().to_string(), Default::default()).await?;
/// let arith = ArithClient::new(client);
/// assert_eq!(arith.mul(&Args { a: 6, b: 7 }).await?.c, 42);
/// let err = arith.div(&Args { a: 1, b: 0 }).await.unwrap_err();
/// assert_eq!(err.server_message(), Some("divide by zero"));
/// # handle.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    let item = syn::parse_macro_input!(item as ItemImpl);
    service_impl(attr, item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One method of a service, as the generated code needs it.
struct Method {
    ident: syn::Ident,
    wire: String,
    receiver: bool,
    context: bool,
    asyncness: bool,
    args: Type,
    output: Type,
    reply: TokenStream2,
    docs: Vec<Attribute>,
}

fn service_impl(attr: TokenStream2, mut item: ItemImpl) -> syn::Result<TokenStream2> {
    let mut service_name: Option<LitStr> = None;
    let options = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    for meta in options {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("name") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) if !s.value().is_empty() => service_name = Some(s.clone()),
                v => {
                    return Err(syn::Error::new(
                        v.span(),
                        "the service name is a non-empty string: `name = \"Arith\"`",
                    ))
                }
            },
            _ => {
                return Err(syn::Error::new(
                    meta.span(),
                    "unknown option: `#[rpcx::service]` takes `name = \"ServiceName\"`",
                ))
            }
        }
    }
    if let Some(t) = &item.trait_ {
        return Err(syn::Error::new(
            t.1.span(),
            "#[rpcx::service] goes on an inherent `impl Type { ... }` block, not a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "#[rpcx::service] does not support generic impl blocks: implement a concrete type",
        ));
    }
    let self_ty = (*item.self_ty).clone();
    let type_ident = match &self_ty {
        Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
            Some(seg) if seg.arguments.is_empty() => seg.ident.clone(),
            _ => {
                return Err(syn::Error::new(
                    self_ty.span(),
                    "#[rpcx::service] needs a plain type name (no generic arguments)",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new(
                self_ty.span(),
                "#[rpcx::service] goes on `impl TypeName { ... }`",
            ))
        }
    };
    let service_name = service_name
        .map(|l| l.value())
        .unwrap_or_else(|| unraw(&type_ident));

    let mut methods = Vec::new();
    let mut errors: Option<syn::Error> = None;
    for impl_item in &mut item.items {
        let ImplItem::Fn(f) = impl_item else { continue };
        let opts = match take_method_options(f) {
            Ok(o) => o,
            Err(e) => {
                push_error(&mut errors, e);
                continue;
            }
        };
        if !matches!(f.vis, Visibility::Public(_)) || opts.skip {
            if let Some(span) = opts.name_span {
                if !matches!(f.vis, Visibility::Public(_)) {
                    push_error(
                        &mut errors,
                        syn::Error::new(
                            span,
                            "only `pub` functions become rpcx methods: make this one `pub`",
                        ),
                    );
                }
            }
            continue;
        }
        match method_of(f, opts.name) {
            Ok(m) => methods.push(m),
            Err(e) => push_error(&mut errors, e),
        }
    }
    if let Some(e) = errors {
        let e = e.into_compile_error();
        return Ok(quote!(#item #e));
    }
    let mut errors_after: Option<syn::Error> = None;
    // The generated clients have these items, and a `name_with` twin per method.
    const CLIENT_ITEMS: [&str; 5] = ["new", "with_service", "service", "caller", "into_caller"];
    let rust_names: Vec<String> = methods.iter().map(|m| unraw(&m.ident)).collect();
    for m in &methods {
        let name = unraw(&m.ident);
        let clash = if CLIENT_ITEMS.contains(&name.as_str()) {
            Some(format!(
                "`{name}` is also an item of the generated `{type_ident}Client`: rename the function and keep the wire name with `#[rpcx(name = \"{}\")]`",
                m.wire
            ))
        } else {
            rust_names
                .iter()
                .find(|other| name == format!("{other}_with"))
                .map(|other| {
                    format!(
                        "`{name}` is also the generated client's per-call-options twin of `{other}`: rename one of them (`#[rpcx(name = \"...\")]` keeps the wire name)"
                    )
                })
        };
        if let Some(text) = clash {
            push_error(&mut errors_after, syn::Error::new(m.ident.span(), text));
        }
    }
    // Two functions answering one wire name: the server would refuse the second at run time.
    for (i, m) in methods.iter().enumerate() {
        if let Some(first) = methods[..i].iter().find(|o| o.wire == m.wire) {
            push_error(
                &mut errors_after,
                syn::Error::new(
                    m.ident.span(),
                    format!(
                        "`{}` and `{}` both have the wire name `{}`: give one of them another with `#[rpcx(name = \"...\")]`",
                        unraw(&m.ident),
                        unraw(&first.ident),
                        m.wire
                    ),
                ),
            );
        }
    }
    if let Some(e) = errors_after {
        let e = e.into_compile_error();
        return Ok(quote!(#item #e));
    }
    if methods.is_empty() {
        return Err(syn::Error::new(
            item.self_ty.span(),
            "this rpcx service has no methods: make the functions that callers may call `pub`",
        ));
    }

    let service_impl = service_trait_impl(&self_ty, &service_name, &methods);
    let clients = clients(&type_ident, &service_name, &methods);
    Ok(quote! {
        #item
        #service_impl
        #clients
    })
}

fn push_error(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// `#[rpcx(...)]` on a method, removed from the output.
#[derive(Default)]
struct MethodOptions {
    name: Option<String>,
    name_span: Option<Span>,
    skip: bool,
}

fn take_method_options(f: &mut ImplItemFn) -> syn::Result<MethodOptions> {
    let mut opts = MethodOptions::default();
    let mut result = Ok(());
    f.attrs.retain(|attr| {
        if !attr.path().is_ident("rpcx") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(lit.span(), "a method name cannot be empty"));
                }
                opts.name = Some(lit.value());
                opts.name_span = Some(lit.span());
                Ok(())
            } else if meta.path.is_ident("skip") {
                opts.skip = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown rpcx option: a method takes `#[rpcx(name = \"Name\")]` or `#[rpcx(skip)]`",
                ))
            }
        });
        if let Err(e) = parsed {
            result = Err(e);
        }
        false
    });
    result.map(|()| opts)
}

fn method_of(f: &ImplItemFn, name: Option<String>) -> syn::Result<Method> {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "an rpcx method cannot be generic: callers need one argument and reply type",
        ));
    }
    let mut receiver = false;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                if r.reference.is_none() || r.colon_token.is_some() {
                    return Err(syn::Error::new(
                        r.span(),
                        "an rpcx method takes `&self`: the service object is shared by concurrent calls",
                    ));
                }
                if r.mutability.is_some() {
                    return Err(syn::Error::new(
                        r.span(),
                        "an rpcx method takes `&self`, not `&mut self`: calls run concurrently on one shared object; keep mutable state behind a `Mutex` or atomics",
                    ));
                }
                receiver = true;
            }
            FnArg::Typed(t) => params.push(t),
        }
    }
    let is_context = |ty: &Type| match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_empty()),
        _ => false,
    };
    let (context, args) = match params.as_slice() {
        [a] if !is_context(&a.ty) => (false, a),
        [c, a] if is_context(&c.ty) && !is_context(&a.ty) => (true, a),
        [] | [_] => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                "an rpcx method takes one argument (optionally after a `Context`); use `()` for none: `fn ping(&self, _: ()) -> ...`",
            ))
        }
        _ => {
            // The first parameter past the one argument (and the context, if any).
            let skip = if is_context(&params[0].ty) && params.len() > 2 { 2 } else { 1 };
            let span = params[skip].span();
            return Err(syn::Error::new(
                span,
                "an rpcx method takes one argument (optionally after a `Context`): put the values into one struct that derives `rpcx::Codable`",
            ));
        }
    };
    if let Type::Reference(r) = &*args.ty {
        return Err(syn::Error::new(
            r.span(),
            "an rpcx method takes its argument by value: remove the `&`",
        ));
    }
    let output: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let reply = result_ok_type(&output).map(|t| quote!(#t)).unwrap_or_else(
        || quote_spanned!(output.span()=> <#output as ::rpcx::server::IntoReply>::Reply),
    );
    Ok(Method {
        ident: sig.ident.clone(),
        wire: name.unwrap_or_else(|| go_name(&unraw(&sig.ident))),
        receiver,
        context,
        asyncness: sig.asyncness.is_some(),
        args: (*args.ty).clone(),
        output,
        reply,
        docs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
    })
}

/// `R` of a return type spelled `Result<R, E>` (any path ending in `Result`, as `io::Result<R>`).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// Go's exported name of a Rust function name: `get_user` → `GetUser`.
fn go_name(rust: &str) -> String {
    let mut out = String::with_capacity(rust.len());
    for part in rust.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn service_trait_impl(self_ty: &Type, service_name: &str, methods: &[Method]) -> TokenStream2 {
    let entries = methods.iter().map(|m| {
        let Method {
            ident,
            wire,
            args,
            output,
            ..
        } = m;
        // Errors of the handler as a whole (argument or reply not usable) point at the name.
        let span = ident.span();
        let ctx_arg = if m.context { quote!(ctx,) } else { quote!() };
        let call = if m.receiver {
            quote!(this.#ident(#ctx_arg args))
        } else {
            quote!(<#self_ty>::#ident(#ctx_arg args))
        };
        let clone_this = if m.receiver {
            quote!(let this = ::rpcx::__private::Arc::clone(&self);)
        } else {
            quote!()
        };
        let ctx_param = if m.context { quote!(ctx) } else { quote!(_ctx) };
        let out_span = output.span();
        let reply_ty = quote_spanned!(out_span=> <#output as ::rpcx::server::IntoReply>::Reply);
        let finish = quote_spanned! {out_span=>
            ::rpcx::__private::with_zero_reply(out, || {
                #[allow(unused_imports)]
                use ::rpcx::__private::{ZeroNo as _, ZeroYes as _};
                (&&::rpcx::__private::Probe::<#reply_ty>::new()).__rpcx_zero()
            })
        };
        let handler = if m.asyncness {
            let inner_clone = if m.receiver {
                quote!(let this = ::rpcx::__private::Arc::clone(&this);)
            } else {
                quote!()
            };
            quote_spanned! {span=>
                ::rpcx::server::async_fn(move |#ctx_param: ::rpcx::server::Context, args: #args| {
                    #inner_clone
                    async move {
                        let out: #output = #call.await;
                        #finish
                    }
                })
            }
        } else {
            quote_spanned! {span=>
                ::rpcx::server::sync_fn(move |#ctx_param: ::rpcx::server::Context, args: #args| {
                    let out: #output = #call;
                    #finish
                })
            }
        };
        quote! {
            (::std::string::String::from(#wire), { #clone_this #handler })
        }
    });
    quote! {
        impl ::rpcx::server::Service for #self_ty {
            fn methods(
                self: ::rpcx::__private::Arc<Self>,
            ) -> ::std::vec::Vec<(
                ::std::string::String,
                ::rpcx::__private::Arc<dyn ::rpcx::server::Handler>,
            )> {
                ::std::vec![#(#entries),*]
            }
        }

        impl ::rpcx::server::NamedService for #self_ty {
            const NAME: &'static str = #service_name;
        }
    }
}

fn clients(type_ident: &syn::Ident, service_name: &str, methods: &[Method]) -> TokenStream2 {
    let async_client = client(type_ident, service_name, methods, false);
    let blocking_client = client(type_ident, service_name, methods, true);
    quote! {
        #async_client
        #blocking_client
    }
}

/// The typed client of the service, async (`<Type>Client` over `rpcx::client::Caller`) or
/// `blocking` (`<Type>BlockingClient` over `rpcx::blocking::Caller`): a struct holding the
/// caller and the service name, with a method and a `_with` method per service method.
fn client(
    type_ident: &syn::Ident,
    service_name: &str,
    methods: &[Method],
    blocking: bool,
) -> TokenStream2 {
    let (client, module, doc, underneath) = if blocking {
        (
            format_ident!("{}BlockingClient", type_ident),
            quote!(::rpcx::blocking),
            format!(
                "Blocking typed client of the rpcx service `{service_name}` (generated by \
                 `#[rpcx::service]` on `{type_ident}`), over a `rpcx::blocking::Client`: for \
                 code without an async runtime."
            ),
            "client",
        )
    } else {
        (
            format_ident!("{}Client", type_ident),
            quote!(::rpcx::client),
            format!(
                "Typed client of the rpcx service `{service_name}` (generated by \
                 `#[rpcx::service]` on `{type_ident}`): one method per service method, over a \
                 `rpcx::client::Client` (the default) or an `rpcx::xclient::XClient` of the \
                 service."
            ),
            "client or XClient",
        )
    };
    let caller_doc = format!("The {underneath} underneath.");
    let into_caller_doc = format!("Returns the {underneath} underneath.");
    let client_methods = methods.iter().map(|m| {
        let Method {
            ident,
            wire,
            args,
            reply,
            docs,
            ..
        } = m;
        let with = format_ident!("{}_with", unraw(ident));
        let (head, with_doc) = if blocking {
            (
                format!("Calls `{service_name}.{wire}`, blocking."),
                format!(
                    "Calls `{service_name}.{wire}` with per-call options, blocking; returns the \
                     reply and the response metadata."
                ),
            )
        } else {
            (
                format!("Calls `{service_name}.{wire}`."),
                format!(
                    "Calls `{service_name}.{wire}` with per-call options (metadata, timeout, \
                     serialization); returns the reply and the response metadata."
                ),
            )
        };
        let span = args.span();
        // Every token of a method carries the argument type's span, so a type that is not
        // Codable is reported there once.
        let (module, asyncness, await_) = if blocking {
            (quote_spanned!(span=> ::rpcx::blocking), quote!(), quote!())
        } else {
            (
                quote_spanned!(span=> ::rpcx::client),
                quote_spanned!(span=> async),
                quote_spanned!(span=> .await),
            )
        };
        quote_spanned! {span=>
            #[doc = #head]
            #[doc = ""]
            #(#docs)*
            pub #asyncness fn #ident(&self, args: &#args) -> ::core::result::Result<#reply, ::rpcx::Error> {
                #module::Caller::call_service::<#args, #reply>(
                    &self.caller, &self.service, #wire, args, ::core::default::Default::default(),
                )
                #await_
                .map(|r| r.reply)
            }

            #[doc = #with_doc]
            pub #asyncness fn #with(
                &self,
                args: &#args,
                options: ::rpcx::client::CallOptions,
            ) -> ::core::result::Result<::rpcx::client::Response<#reply>, ::rpcx::Error> {
                #module::Caller::call_service::<#args, #reply>(
                    &self.caller, &self.service, #wire, args, options,
                )
                #await_
            }
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #client<C = #module::Client> {
            caller: C,
            service: ::std::string::String,
        }

        #[allow(private_interfaces, private_bounds, dead_code)]
        impl<C: #module::Caller> #client<C> {
            /// The name the service is registered under by default.
            pub const SERVICE: &'static str = #service_name;

            /// A typed client calling the service through `caller`.
            pub fn new(caller: C) -> Self {
                Self::with_service(caller, Self::SERVICE)
            }

            /// A typed client calling the same methods of a service registered under another
            /// name (as Go's protobuf examples serve `Arith` as `ProtoArith`).
            pub fn with_service(caller: C, service: impl ::core::convert::Into<::std::string::String>) -> Self {
                Self { caller, service: service.into() }
            }

            /// The service name the calls carry.
            pub fn service(&self) -> &str {
                &self.service
            }

            #[doc = #caller_doc]
            pub fn caller(&self) -> &C {
                &self.caller
            }

            #[doc = #into_caller_doc]
            pub fn into_caller(self) -> C {
                self.caller
            }

            #(#client_methods)*
        }
    }
}

#[cfg(test)]
mod tests {
    use super::go_name;

    #[test]
    fn go_names() {
        assert_eq!(go_name("mul"), "Mul");
        assert_eq!(go_name("get_user"), "GetUser");
        assert_eq!(go_name("a_b_c"), "ABC");
        assert_eq!(go_name("_private_ish"), "PrivateIsh");
        assert_eq!(go_name("already_Pascal"), "AlreadyPascal");
    }
}
