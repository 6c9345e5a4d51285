"""A Python agent system traced with the official OpenTelemetry SDK, exported over OTLP
to `lookout serve`: a coordinator invokes a researcher sub-agent, which calls a tool that
fails and a model. Prints the trace id as JSON once the exporter has flushed.

    python3 otel_agents.py http http://127.0.0.1:PORT/v1/traces [TOKEN]
    python3 otel_agents.py grpc 127.0.0.1:PORT [TOKEN]
"""

import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def exporter(protocol, endpoint, token):
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, insecure=True, headers=headers)


def main():
    protocol, endpoint = sys.argv[1], sys.argv[2]
    token = sys.argv[3] if len(sys.argv) > 3 else None
    provider = TracerProvider(resource=Resource.create({"service.name": f"py-agents-{protocol}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter(protocol, endpoint, token)))
    tracer = provider.get_tracer("agents")
    agent = lambda name: {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
    with tracer.start_as_current_span("invoke_agent coordinator", attributes=agent("coordinator")) as root:
        with tracer.start_as_current_span("invoke_agent researcher", attributes=agent("researcher")):
            with tracer.start_as_current_span(
                "execute_tool search",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
            ) as tool:
                tool.set_attribute("error.type", "timeout")
                tool.set_status(Status(StatusCode.ERROR, "search timed out"))
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                },
            ):
                pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    flushed = provider.force_flush(10_000)
    provider.shutdown()
    print(json.dumps({"trace_id": trace_id, "flushed": flushed}))


if __name__ == "__main__":
    main()
