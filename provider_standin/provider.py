"""The stand-in's pulumi.provider.experimental.Provider: config, Check, Diff, CRUD dispatch.

Blocking database work runs in worker threads (asyncio.to_thread), each operation on
connections of its own, so the engine's parallel operations reach PostgreSQL in parallel,
as they do with the real provider's goroutines (the "tuple concurrently updated" trap
depends on it).
"""

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import psycopg
from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.property_value import PropertyValue

from provider_standin import bridge, default_privileges, grant, grant_role, role, schema
from provider_standin.pg import DEFAULT_MAX_CONNECTIONS, ConnConfig, Pool, ProviderError, Session
from provider_standin.values import UNKNOWN, Fields, from_py, map_from_py, map_to_py

RESOURCES: dict[str, ModuleType] = {m.TOKEN: m for m in (role, schema, grant, default_privileges, grant_role)}
REQUIRED: dict[str, tuple[str, ...]] = {
    role.TOKEN: ("name",),
    schema.TOKEN: ("name",),
    grant.TOKEN: ("role", "database", "schema", "objectType", "privileges"),
    default_privileges.TOKEN: ("role", "database", "owner", "objectType", "privileges"),
    grant_role.TOKEN: ("role", "grantRole"),
}


def token_of(urn: str) -> str:
    """The resource's own type token (a URN's type part is parent$...$child)."""
    return urn.split("::")[2].split("$")[-1]


def _config_value(args: dict[str, Any], variables: dict[str, str], key: str) -> Any:
    if args.get(key) not in (None, ""):
        return args[key]
    return variables.get(f"postgresql:config:{key}")


class StandinProvider(p.Provider):
    def __init__(self) -> None:
        self._config: ConnConfig | None = None
        self._pools: dict[str, Pool] = {}

    # ------------------------------------------------------------------ config

    async def check_config(self, request: p.CheckRequest) -> p.CheckResponse:
        return p.CheckResponse(inputs=request.new_inputs)

    async def diff_config(self, request: p.DiffRequest) -> p.DiffResponse:
        olds = {k: v for k, v in map_to_py(request.old_state).items() if k != "version"}
        news = {k: v for k, v in map_to_py(request.new_inputs).items() if k != "version"}
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
        return p.DiffResponse(changes=bool(changed), diffs=changed)

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        """No value is checked here: sslmode is the driver's to refuse, at the first
        connection (pg.sslmode_problem), as upstream's providerConfigure does not."""
        args = map_to_py(request.args)
        variables = dict(request.variables)

        def get(key: str, default: Any) -> Any:
            value = _config_value(args, variables, key)
            return default if value in (None, "") or value is UNKNOWN else value

        # unset: lib/pq's own default, which connects as "require" does (lib/pq ssl.go:85)
        sslmode = str(get("sslmode", get("sslMode", os.environ.get("PGSSLMODE") or "require")))
        superuser = get("superuser", True)
        self._config = ConnConfig(
            host=str(get("host", os.environ.get("PGHOST", "localhost"))),
            port=int(float(get("port", os.environ.get("PGPORT", 5432)))),
            username=str(get("username", os.environ.get("PGUSER", "postgres"))),
            password=get("password", os.environ.get("PGPASSWORD")),
            database=str(get("database", os.environ.get("PGDATABASE", "postgres"))),
            sslmode=sslmode,
            connect_timeout=int(float(get("connectTimeout", 180))),
            max_connections=int(float(get("maxConnections", DEFAULT_MAX_CONNECTIONS))),
            superuser=superuser in (True, "true", "True"),
        )
        return p.ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=True)

    # ------------------------------------------------------------------ connections

    def _pool(self, database: str | None) -> Pool:
        if self._config is None:
            raise ProviderError("the postgresql provider was not configured")
        key = database or self._config.database
        if key not in self._pools:
            self._pools[key] = Pool(self._config, key)
        return self._pools[key]

    @contextmanager
    def connection(self, database: str | None, what: str) -> Iterator[psycopg.Connection]:
        """pg.Connections: a new connection to `database` (None: the provider's own)."""
        with self._pool(database).connection(what) as conn:
            yield conn

    def server_version(self) -> int:
        return self._pool(None).server_version

    async def _in_thread(self, what: str, database: str | None, fn: Callable[[Session], Any]) -> Any:
        def work() -> Any:
            self._pool(None).connect(what)  # PGResourceFunc: client.Connect() on the provider's database
            return fn(Session(self, what, database))

        return await asyncio.to_thread(work)

    async def _operation(self, op: str, urn: str, what: str, database: str | None, fn: Callable[[Session], Any]) -> Any:
        """The operation's work; its upstream error handed on as the bridge does."""
        try:
            return await self._in_thread(what, database, fn)
        except ProviderError as exc:
            raise bridge.resource_error(op, urn, str(exc)) from None

    # ------------------------------------------------------------------ check, diff

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        token = token_of(request.urn)
        module = RESOURCES.get(token)
        if module is None:
            return p.CheckResponse(failures=[p.CheckFailure("", f"{token} is not implemented by the stand-in")])
        inputs = dict(request.new_inputs)
        fields: Fields = module.FIELDS
        for key, default in fields.defaults.items():
            if key not in inputs or inputs[key].value is None:
                inputs[key] = from_py(default)
        failures = [
            p.CheckFailure(key, f'Missing required argument: The argument "{key}" is required')
            for key in REQUIRED[token]
            if key not in inputs or inputs[key].value is None
        ]
        object_type = map_to_py({"t": inputs["objectType"]})["t"] if "objectType" in inputs else None
        failures += bridge.check_failures(token, request.name, object_type)
        return p.CheckResponse(inputs=inputs, failures=failures or None)

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        token = token_of(request.urn)
        fields: Fields = RESOURCES[token].FIELDS
        olds = map_to_py(request.old_state)
        news = map_to_py(request.new_inputs)
        keys = set(news) | set(fields.optional_zero) | set(fields.defaults)
        diffs, replaces = [], []
        detailed: dict[str, p.PropertyDiff] = {}
        for key in sorted(keys):
            if key.startswith("__") or key in request.ignore_changes:
                continue
            new = news.get(key)
            if new is None and key not in fields.optional_zero and key not in fields.defaults:
                continue  # optional + computed upstream: absent means "whatever it is"
            if new is not UNKNOWN and fields.normalised(key, new) == fields.normalised(key, olds.get(key)):
                continue
            diffs.append(key)
            if key in fields.force_new:
                replaces.append(key)
            kind = p.PropertyDiffKind.UPDATE_REPLACE if key in fields.force_new else p.PropertyDiffKind.UPDATE
            detailed[key] = p.PropertyDiff(kind, True)
        return p.DiffResponse(
            changes=bool(diffs),
            replaces=replaces,
            diffs=diffs,
            detailed_diff=detailed,
            delete_before_replace=token in bridge.DELETE_BEFORE_REPLACE and bool(replaces),
        )

    # ------------------------------------------------------------------ CRUD

    def _database_of(self, token: str, props: dict[str, Any]) -> str | None:
        if token in (role.TOKEN, grant_role.TOKEN):
            return None
        return str(props.get("database") or "") or None

    def _outputs(self, token: str, state: dict[str, Any]) -> dict[str, PropertyValue]:
        return map_from_py(state, RESOURCES[token].FIELDS.secrets)

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        token, props = token_of(request.urn), map_to_py(request.properties)
        if request.preview:
            return p.CreateResponse(resource_id="", properties=request.properties)
        database = self._database_of(token, props)

        def work(s: Session) -> tuple[str, dict[str, Any] | None]:
            if token == role.TOKEN:
                return role.create(s, props)
            if token == schema.TOKEN:
                assert self._config is not None
                return schema.create(s, props, database or self._config.database)
            if token == grant.TOKEN:
                return grant.grant_id(props), grant.apply(s, props)
            if token == default_privileges.TOKEN:
                return default_privileges.default_privileges_id(props), default_privileges.apply(s, props)
            return grant_role.create(s, props)

        rid, state = await self._operation("create", request.urn, f"create {request.name}", database, work)
        return p.CreateResponse(resource_id=rid, properties=self._outputs(token, state or props))

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        """The engine's Read (refresh): the SDK's Exists first where upstream has one."""
        token = token_of(request.urn)
        props = {**map_to_py(request.inputs), **map_to_py(request.properties)}
        database = self._database_of(token, props)
        module = RESOURCES[token]
        refresh = getattr(module, "refresh", module.read)

        def work(s: Session) -> dict[str, Any] | None:
            return refresh(s, request.resource_id, props)

        state = await self._operation("read", request.urn, f"read {request.name}", database, work)
        if state is None:
            return p.ReadResponse(resource_id=None)
        return p.ReadResponse(
            resource_id=request.resource_id, properties=self._outputs(token, state), inputs=request.inputs
        )

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        token, olds, news = token_of(request.urn), map_to_py(request.olds), map_to_py(request.news)
        if request.preview:
            return p.UpdateResponse(properties=request.news)
        database = self._database_of(token, news)

        def work(s: Session) -> dict[str, Any] | None:
            if token == role.TOKEN:
                return role.update(s, request.resource_id, olds, news)
            if token == schema.TOKEN:
                assert self._config is not None
                return schema.update(s, request.resource_id, olds, news, database or self._config.database)
            if token == grant.TOKEN:
                return grant.apply(s, news)
            if token == default_privileges.TOKEN:
                return default_privileges.apply(s, news)
            raise ProviderError("GrantRole has no Update (every field forces a replacement)")

        state = await self._operation("update", request.urn, f"update {request.name}", database, work)
        return p.UpdateResponse(properties=self._outputs(token, state or news))

    async def delete(self, request: p.DeleteRequest) -> None:
        token, props = token_of(request.urn), map_to_py(request.properties)
        database = self._database_of(token, props)

        def work(s: Session) -> None:
            if token == role.TOKEN:
                assert self._config is not None
                role.delete(s, request.resource_id, props, self._config.username)
            elif token == schema.TOKEN:
                schema.delete(s, request.resource_id, props)
            else:
                RESOURCES[token].delete(s, props)

        await self._operation("delete", request.urn, f"delete {request.name}", database, work)
