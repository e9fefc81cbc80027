"""GraphQL over HTTP and websockets at `/graphql`.

HTTP (GraphQL-over-HTTP spec): POST with an `application/json` body, GET with `?query=` (queries only: a mutation by
GET is answered 405 with `Allow: POST`), OPTIONS. The body is refused (413) from its Content-Length before it is read
and checked as it is read (`api.graphql.body`); every malformed request is a 400 with a GraphQL-shaped error. Answers
are `application/graphql-response+json` when accepted (a request error is then a 400), else `application/json`
(then 200 with errors). A client over its budget gets 429 with Retry-After; a database that cannot be reached, 503
with Retry-After. Only successful answers may be cached (`api.graphql.etag`); the rest are `no-store`.

Websockets (graphql-transport-ws, graphql-ws) are strawberry's; each operation, mutations included, runs through
the same schema, limits and budget as over HTTP, with the token from `connection_init`'s payload.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.graphql import answers, graphiql
from api.graphql.answer_cache import AnswerCache, answer_key, operation_kind
from api.graphql.answers import GRAPHQL_RESPONSE, NO_STORE, errors_response, negotiate
from api.graphql.body import BadRequest, GraphQLRequest, from_query_string, graphql_requests, parse_json, read_body
from api.graphql.context import Context
from api.graphql.errors import DATABASE_UNREACHABLE, graphql_error, quoted
from api.graphql.limits import RATE_LIMITED, Edge
from api.graphql.persisted import PersistedQueries, PersistedQueryNotFound
from api.graphql.ratelimit import RateLimiter
from api.read.version import CurrentVersion
from api.storage.health import DatabaseOutage

if TYPE_CHECKING:
    from api.services import Services

_ALLOW = "GET, POST, OPTIONS"


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class PantauGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        services: Services,
        *,
        limiter: RateLimiter | None = None,
        outage: DatabaseOutage | None = None,
        version: CurrentVersion | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide=None, allowed_origins=services.settings.allowed_origins)
        self.services = services
        self.sessions = services.reads
        self.settings = services.settings
        self.catalog = services.catalog
        self.limiter = limiter
        self.outage = outage or DatabaseOutage()
        settings = services.settings
        self.version = version or CurrentVersion(services.reads, settings.cache_version_seconds)
        self.persisted = PersistedQueries(services.redis, settings.redis_prefix)
        self.cache = AnswerCache(
            services.redis, settings.redis_prefix, services.registry, ttl_seconds=settings.answer_cache_seconds
        )

    def _edge(self, scope: Scope) -> Edge:
        return Edge(client_of(scope), self.limiter, self.outage)

    async def get_context(self, request: Any, response: Any) -> Context:
        """The context of a websocket connection (HTTP requests make theirs in `answer`)."""
        return Context(
            sessions=self.sessions,
            settings=self.settings,
            request=request,
            response=response,
            catalog=self.catalog,
            edge=self._edge(request.scope),
            services=self.services,
        )

    def decode_json(self, data: str | bytes) -> object:
        """Websocket messages: the same strict, depth-limited JSON as request bodies."""
        try:
            return parse_json(data, "the message")
        except BadRequest as error:
            raise json.JSONDecodeError(error.message, "", 0) from None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = await self.answer(scope, receive)
            await response(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive) -> Response:
        request = Request(scope, receive)
        method = "GET" if request.method == "HEAD" else request.method
        media = negotiate(request.headers.get("accept"))
        try:
            if method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": _ALLOW})
            if method not in ("GET", "POST"):
                raise BadRequest(405, f"{request.method} is not served here; use GET or POST", {"Allow": _ALLOW})
            params = request.query_params
            if method == "GET" and "query" not in params and "extensions" not in params:
                if self.settings.development and "text/html" in request.headers.get("accept", ""):
                    return graphiql.page()
                raise BadRequest(400, "a GET request needs a `query` parameter holding a GraphQL document")
            if media is None:
                raise BadRequest(406, "answers are application/graphql-response+json or application/json")
            operations = await self._operations(request, method)
            context = Context(
                sessions=self.sessions,
                settings=self.settings,
                request=request,
                response=_sub_response(),
                catalog=self.catalog,
                edge=self._edge(scope),
                services=self.services,
            )
            version = await self._version(request)
            if not isinstance(operations, list):
                answered = await self._answer(operations, context, method, version)
                return self._respond([answered], context, media, batch=False)
            outcomes = [await self._batch_member(op, context, method, version) for op in operations]
            return self._respond(outcomes, context, media, batch=True)
        except BadRequest as error:
            return errors_response(error.status, [graphql_error(error.message, error.code)], media, error.headers)

    async def _batch_member(
        self, operation: GraphQLRequest, context: Context, method: str, version: str | None
    ) -> ExecutionResult | bytes:
        """A batch's operation: an unknown persisted hash fails that member alone, so its client resends it with
        the document while the others are answered."""
        try:
            return await self._answer(operation, context, method, version)
        except PersistedQueryNotFound as error:
            return ExecutionResult(data=None, errors=[GraphQLError(error.message, extensions={"code": error.code})])

    async def _version(self, request: Request) -> str | None:
        """The data version answers are cached under; None when this request's answers are not cached."""
        if not self.cache.enabled or "authorization" in request.headers:
            return None
        try:
            return await self.version.get()
        except (OSError, SQLAlchemyError):
            return None  # the operation reports the database's absence

    async def _answer(
        self, operation: GraphQLRequest, context: Context, method: str, version: str | None
    ) -> ExecutionResult | bytes:
        """One operation's answer: a cached one (bytes), or its result once run."""
        operation, unregistered = await self.persisted.resolve(operation)
        key = answer_key(operation) if version is not None else None
        if key is not None and version is not None:
            cached = await self.cache.get(key, version)
            if cached is not None:
                return cached
        result = await self._execute(operation, context, method)
        assert operation.query is not None
        if unregistered is not None and not _request_error(result):
            await self.persisted.register(unregistered, operation.query)
        kind, stored = operation_kind(operation.query, operation.operation_name)
        if kind == "mutation":
            self.version.forget()  # this worker's next read sees its own write
        if result.errors or result.data is None or kind != "query":
            return result
        if not stored:
            if method == "GET":  # `upstream`: kept on the way for max-age, never by data version
                context.response.headers["Cache-Control"] = f"public, max-age={self.settings.cache_max_age}"
            return result
        if key is None or version is None:
            return result
        encoded = answers.encode(_body(result))
        await self.cache.put(key, version, encoded)
        return encoded

    async def _operations(self, request: Request, method: str) -> GraphQLRequest | list[GraphQLRequest]:
        if method == "GET":
            return from_query_string(request.query_params)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            given = quoted(media) if media else "none"
            raise BadRequest(415, f"send the request as application/json (Content-Type given: {given})")
        body = await read_body(request.scope, request.receive, self.settings.max_body_bytes)
        return graphql_requests(parse_json(body), self.settings.max_batch)

    async def _execute(self, operation: GraphQLRequest, context: Context, method: str) -> ExecutionResult:
        allowed = {OperationType.QUERY} if method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
        try:
            return await self.schema.execute(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=operation.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise BadRequest(405, "mutations are sent by POST, not GET", {"Allow": "POST"}) from None
            raise BadRequest(400, "subscriptions are served over the websocket (graphql-transport-ws)") from None
        except CannotGetOperationTypeError:
            name = operation.operation_name
            missing = f"no operation named {quoted(name)}" if name is not None else "no operation"
            raise BadRequest(400, f"the document holds {missing}") from None
        except MissingQueryError:
            raise BadRequest(400, "the request holds no GraphQL document") from None

    def _respond(
        self, results: list[ExecutionResult | bytes], context: Context, media: str, *, batch: bool
    ) -> Response:
        edge = context.edge
        assert edge is not None
        ran = [r for r in results if isinstance(r, ExecutionResult)]
        if any(_has_code(r, RATE_LIMITED) for r in ran) and edge.retry_after is not None:
            rate = [e for r in ran for e in _formatted(r) if e.get("extensions", {}).get("code") == RATE_LIMITED]
            return errors_response(429, rate[:1], media, {"Retry-After": str(max(1, round(edge.retry_after)))})
        if any(e.message == DATABASE_UNREACHABLE for r in ran for e in r.errors or []):
            return answers.unreachable_response(media)
        bodies = {id(r): _body(r) for r in ran}
        failed = any("data" not in b for b in bodies.values())
        status = 400 if media == GRAPHQL_RESPONSE and failed else 200
        encoded = [r if isinstance(r, bytes) else answers.encode(bodies[id(r)]) for r in results]
        content = b"[" + b",".join(encoded) + b"]" if batch else encoded[0]
        response = Response(content, status_code=status, media_type=answers.content_type(media))
        sub = context.response
        if isinstance(sub, Response):
            response.headers.update(dict(sub.headers))
        if failed or any("errors" in b for b in bodies.values()):
            response.headers["Cache-Control"] = NO_STORE
        return response


def _sub_response() -> Response:
    sub = Response()
    del sub.headers["content-length"]
    return sub


def _formatted(result: ExecutionResult) -> list[dict[str, Any]]:
    return [dict(e.formatted) for e in result.errors or []]


def _has_code(result: ExecutionResult, code: str) -> bool:
    return any((e.extensions or {}).get("code") == code for e in result.errors or [])


def _request_error(result: ExecutionResult) -> bool:
    """Errors before execution (parse, validation, limits): they carry no path."""
    return bool(result.errors) and all(not e.path for e in result.errors or [])


def _body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    # A result that never reached execution (parse, validation, variables, limits: errors without a path) has no
    # data entry at all; a field error leaves data, even null.
    if not (result.data is None and _request_error(result)):
        body["data"] = result.data
    if result.errors:
        body["errors"] = _formatted(result)
    if result.extensions:
        body["extensions"] = result.extensions
    return body
