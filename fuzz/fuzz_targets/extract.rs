//! Trace-context extraction from arbitrary bytes: never panics, and whatever it accepts
//! re-encodes to a header that extracts to the same context.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lookout::trace::SpanContext;

fuzz_target!(|data: &[u8]| {
    // The first line is the traceparent, every further line a tracestate header.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let traceparent = lines.next().unwrap_or_default();
    let tracestate: Vec<&str> = lines.collect();
    if let Some(ctx) = SpanContext::extract_headers(traceparent, tracestate.iter().copied()) {
        let again = SpanContext::extract(&ctx.traceparent(), Some(ctx.trace_state.header()))
            .expect("an accepted context re-encodes to a valid header");
        assert_eq!(again, ctx);
    }
});
