"""An OpenTelemetry Python SDK process that Lookout's tests talk to.

  otel_peer.py child   read TRACEPARENT/TRACESTATE from the environment with the SDK's
                       W3C propagator, start a span under it, print its ids as JSON.
  otel_peer.py parent LOOKOUT...
                       start a root span, inject it into the environment of the command
                       that follows (with the SDK's propagator), run it, print the root's
                       ids as JSON.
"""
import json
import os
import subprocess
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

provider = TracerProvider()
tracer = provider.get_tracer("lookout-interop")
propagator = TraceContextTextMapPropagator()


def ids(span):
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "tracestate": ctx.trace_state.to_header(),
        "sampled": ctx.trace_flags.sampled,
    }


def child():
    carrier = {}
    if "TRACEPARENT" in os.environ:
        carrier["traceparent"] = os.environ["TRACEPARENT"]
    if os.environ.get("TRACESTATE"):
        carrier["tracestate"] = os.environ["TRACESTATE"]
    with tracer.start_as_current_span("python-sub-agent", context=propagator.extract(carrier)) as span:
        print(json.dumps(ids(span)))


def parent(command):
    with tracer.start_as_current_span("python-coordinator") as span:
        carrier = {}
        propagator.inject(carrier)
        env = dict(os.environ, TRACEPARENT=carrier["traceparent"])
        if "tracestate" in carrier:
            env["TRACESTATE"] = carrier["tracestate"]
        subprocess.run(command, env=env, check=True)
        print(json.dumps(ids(span)))


if __name__ == "__main__":
    if sys.argv[1] == "child":
        child()
    else:
        parent(sys.argv[2:])
