//! `#[lookout::skill]`: seed 000's `@telemetry_decorator` for Rust functions. Re-exported
//! by `lookout` (feature `macros`, on by default); see `lookout::skill` for its use.

use proc_macro::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, ReturnType, Type, parse_macro_input};

/// Times every call of the function as a skill execution: its duration, `success` or
/// `failed` (an `Err` return or a panic), its arguments' count and names but never their
/// values, with the span current while the body runs.
///
/// Options: `name = "my.skill"` (default: the function's name), `caller`, `agent`,
/// `workflow`. Works on `fn` and `async fn`, free or methods.
#[proc_macro_attribute]
pub fn skill(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident("name") {
            &mut options.name
        } else if meta.path.is_ident("caller") {
            &mut options.caller
        } else if meta.path.is_ident("agent") {
            &mut options.agent
        } else if meta.path.is_ident("workflow") {
            &mut options.workflow
        } else {
            return Err(meta.error("unknown option: expected name, caller, agent or workflow"));
        };
        *slot = Some(meta.value()?.parse::<LitStr>()?);
        Ok(())
    });
    parse_macro_input!(args with parser);
    let function = parse_macro_input!(item as ItemFn);
    expand(options, function).into()
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    caller: Option<LitStr>,
    agent: Option<LitStr>,
    workflow: Option<LitStr>,
}

fn expand(options: Options, function: ItemFn) -> proc_macro2::TokenStream {
    let ItemFn {
        attrs,
        vis,
        modifiers: _,
        sig,
        block,
    } = function;
    let name = options
        .name
        .unwrap_or_else(|| LitStr::new(&sig.ident.to_string(), sig.ident.span()));
    let context = [
        ("caller", options.caller),
        ("agent", options.agent),
        ("workflow", options.workflow),
    ]
    .into_iter()
    .filter_map(|(method, value)| {
        let method = syn::Ident::new(method, proc_macro2::Span::call_site());
        value.map(|value| quote!(.#method(#value)))
    });
    let arguments: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Receiver(_) => None,
            FnArg::Typed(typed) => Some(match &*typed.pat {
                Pat::Ident(ident) => ident.ident.to_string().trim_start_matches("r#").to_owned(),
                _ => "_".to_owned(),
            }),
        })
        .collect();
    let returns_result = match &sig.output {
        ReturnType::Type(_, ty) => is_result(ty),
        ReturnType::Default => false,
    };
    let status = if returns_result {
        quote!(if __lookout_result.is_ok() {
            "success"
        } else {
            "failed"
        })
    } else {
        quote!("success")
    };
    // The body runs in a closure (or an async block), so that its `return` and `?`
    // end the body and not the timing around it.
    let annotation = match &sig.output {
        ReturnType::Type(_, ty) if !mentions_impl(ty) => quote!(: #ty),
        _ => quote!(),
    };
    let run = if sig.asyncness.is_some() {
        quote_spanned!(block.span()=>
            #[allow(clippy::let_unit_value)]
            let __lookout_result #annotation = __lookout_call.in_future(async move #block).await;
        )
    } else {
        quote_spanned!(block.span()=>
            #[allow(clippy::redundant_closure_call, clippy::let_unit_value)]
            let __lookout_result #annotation = {
                let __lookout_entered = __lookout_call.enter();
                (move || #block)()
            };
        )
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            let __lookout_call = ::lookout::skills::Skills::global()
                .call(#name)
                #(#context)*
                .arguments(&[#(#arguments),*]);
            #run
            let _ = __lookout_call.finish(#status);
            __lookout_result
        }
    }
}

/// Whether a return type is a `Result` (any path ending in `Result`, as `io::Result`).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident.to_string().ends_with("Result")),
        Type::Paren(inner) => is_result(&inner.elem),
        Type::Group(inner) => is_result(&inner.elem),
        _ => false,
    }
}

/// Whether a type contains `impl Trait` (which a `let` cannot name).
fn mentions_impl(ty: &Type) -> bool {
    quote!(#ty)
        .to_string()
        .split_whitespace()
        .any(|word| word == "impl")
}
