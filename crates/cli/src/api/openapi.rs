//! The API's OpenAPI document, `GET /api/v1/openapi.json`: built from the same list of
//! endpoints the router serves, and from the run fields the run endpoints check.

use super::run_fields;
use lookout::runs::RunStatus;
use std::borrow::Cow;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, KnownFormat, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder,
};

/// Where the document is served.
pub(crate) const PATH: &str = "/api/v1/openapi.json";

/// What an endpoint takes as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Takes {
    /// No body.
    Nothing,
    /// A run (seed 002's fields plus `event_id`).
    Run,
    /// A JSON array of runs.
    Runs,
    /// A JSON object, its fields described in the summary.
    Object,
    /// An OTLP export request, protobuf or OTLP/JSON.
    Otlp,
}

/// One endpoint: its method, path, what it takes and what it answers when it succeeds.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) method: HttpMethod,
    pub(crate) path: Cow<'static, str>,
    pub(crate) summary: &'static str,
    pub(crate) takes: Takes,
    pub(crate) success: u16,
    /// Whether its refusals are the API's JSON errors (the engine's are plain text).
    pub(crate) json_errors: bool,
}

impl Endpoint {
    /// A `GET` answering 200.
    pub(crate) const fn get(path: &'static str, summary: &'static str) -> Self {
        Endpoint {
            method: HttpMethod::Get,
            path: Cow::Borrowed(path),
            summary,
            takes: Takes::Nothing,
            success: 200,
            json_errors: true,
        }
    }

    /// A `POST` of `takes` answering `success`.
    pub(crate) const fn post(
        path: &'static str,
        summary: &'static str,
        takes: Takes,
        success: u16,
    ) -> Self {
        Endpoint {
            method: HttpMethod::Post,
            path: Cow::Borrowed(path),
            summary,
            takes,
            success,
            json_errors: true,
        }
    }

    /// A `PATCH` of `takes` answering 200.
    pub(crate) const fn patch(path: &'static str, summary: &'static str, takes: Takes) -> Self {
        Endpoint {
            method: HttpMethod::Patch,
            path: Cow::Borrowed(path),
            summary,
            takes,
            success: 200,
            json_errors: true,
        }
    }
}

/// The document of `endpoints`.
pub(crate) fn document(endpoints: &[Endpoint]) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for endpoint in endpoints {
        paths = paths.path(
            endpoint.path.as_ref(),
            PathItem::new(endpoint.method.clone(), operation(endpoint)),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Lookout")
                .version(lookout::VERSION)
                .description(Some(
                    "Runs, sessions, skill captures, events, metrics and OTLP into Lookout's \
                     store. A refusal is a 4xx with {\"error\": {\"code\", \"message\", \
                     \"field\"}}.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .schema("Run", run_schema())
                .schema("Error", error_schema())
                .build(),
        ))
        .build()
}

fn operation(endpoint: &Endpoint) -> utoipa::openapi::path::Operation {
    let mut operation = OperationBuilder::new().summary(Some(endpoint.summary));
    for name in path_parameters(&endpoint.path) {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string())),
        );
    }
    let json = |schema: RefOr<Schema>| ContentBuilder::new().schema(Some(schema)).build();
    let body = match endpoint.takes {
        Takes::Nothing => None,
        Takes::Run => Some(RequestBodyBuilder::new().content("application/json", json(run_ref()))),
        Takes::Runs => Some(RequestBodyBuilder::new().content(
            "application/json",
            json(ArrayBuilder::new().items(run_ref()).into()),
        )),
        Takes::Object => Some(RequestBodyBuilder::new().content(
            "application/json",
            json(ObjectBuilder::new().schema_type(Type::Object).into()),
        )),
        Takes::Otlp => Some(
            RequestBodyBuilder::new()
                .content("application/x-protobuf", ContentBuilder::new().build())
                .content("application/json", ContentBuilder::new().build()),
        ),
    };
    if let Some(body) = body {
        operation = operation.request_body(Some(body.required(Some(Required::True)).build()));
    }
    let refused = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            json(Ref::from_schema_name("Error").into()),
        )
    };
    operation = operation.response(
        endpoint.success.to_string(),
        ResponseBuilder::new().description("Done (for a write: durable)"),
    );
    if endpoint.json_errors {
        operation = operation
            .response(
                "4XX",
                refused("Refused: the code says why, the field is the one at fault"),
            )
            .response(
                "503",
                refused("The store did not answer in time: nothing was acknowledged"),
            );
    }
    operation.build()
}

/// The `{name}` parts of `path`.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn run_ref() -> RefOr<Schema> {
    Ref::from_schema_name("Run").into()
}

/// A run as the run endpoints check it (`run_fields`): unknown fields refused.
fn run_schema() -> Schema {
    let id = || string().max_length(Some(run_fields::MAX_ID));
    let text = || string().max_length(Some(run_fields::MAX_TEXT));
    let time = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let mut run = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Seed 002's fields plus event_id; a new run needs event_id, agent_name and job_type",
        ))
        .property("event_id", id())
        .property("run_id", id())
        .property(
            "status",
            string().enum_values(Some(RunStatus::ALL.iter().map(|s| s.as_str()))),
        )
        .property("start_time", time())
        .property("end_time", time())
        .property(
            "git_commit_hash",
            string().description(Some("A commit hash, hexadecimal")),
        )
        .property(
            "git_commit_source",
            string().enum_values(Some(run_fields::COMMIT_SOURCES)),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for name in run_fields::INTEGERS {
        run = run.property(
            name,
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        );
    }
    for name in run_fields::TEXTS {
        run = run.property(name, text());
    }
    Schema::Object(run.build())
}

/// `{"error": {"code", "message", "field"}}`.
fn error_schema() -> Schema {
    let error = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("code", string().description(Some("Stable, for programs")))
        .property("message", string().description(Some("For people")))
        .property(
            "field",
            string().description(Some("The field at fault, when there is one")),
        )
        .required("code")
        .required("message");
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("error", error)
            .required("error")
            .build(),
    )
}
