"""A Python agent system traced with the official OpenTelemetry SDK, exported over OTLP
to `lookout serve`: a coordinator invokes a researcher sub-agent, which calls a tool that
fails and a model; it also counts its tasks and records its token usage in a histogram,
exported over OTLP metrics. Prints the trace id as JSON once both exporters have flushed.

    python3 otel_agents.py http http://127.0.0.1:PORT/v1/traces [TOKEN]
    python3 otel_agents.py grpc 127.0.0.1:PORT [TOKEN]
"""

import json
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def exporters(protocol, endpoint, token):
    """The span and metric exporters of `protocol`."""
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        metrics = endpoint.replace("/v1/traces", "/v1/metrics")
        return (
            OTLPSpanExporter(endpoint=endpoint, headers=headers),
            OTLPMetricExporter(endpoint=metrics, headers=headers),
        )
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=endpoint, insecure=True, headers=headers),
        OTLPMetricExporter(endpoint=endpoint, insecure=True, headers=headers),
    )


def main():
    protocol, endpoint = sys.argv[1], sys.argv[2]
    token = sys.argv[3] if len(sys.argv) > 3 else None
    resource = Resource.create(
        {"service.name": f"py-agents-{protocol}", "service.instance.id": f"{protocol}-1"}
    )
    span_exporter, metric_exporter = exporters(protocol, endpoint, token)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    tracer = provider.get_tracer("agents")
    # Exported when flushed, not on a timer.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meters.get_meter("agents")
    tasks = meter.create_counter("agent.tasks", description="Tasks an agent finished")
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
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
                tokens.record(120, {"gen_ai.token.type": "input"})
                tokens.record(30, {"gen_ai.token.type": "output"})
            tasks.add(3, {"gen_ai.agent.name": "researcher"})
        trace_id = format(root.get_span_context().trace_id, "032x")
    flushed = provider.force_flush(10_000) and meters.force_flush(10_000)
    provider.shutdown()
    meters.shutdown()
    print(json.dumps({"trace_id": trace_id, "flushed": flushed}))


if __name__ == "__main__":
    main()
