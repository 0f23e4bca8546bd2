"""``wallaroo-registry-ui``: run the registry service, manage its users, read its audit
trail, start the demo."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: SQLite in the data dir; env WALLAROO_REGISTRY_DATABASE_URL)",
    )
    parser.add_argument(
        "--data-dir",
        help="where the database, key file and uploaded models live "
        "(default: ~/.wallaroo-registry-ui; env WALLAROO_REGISTRY_DATA_DIR)",
    )
    parser.add_argument(
        "--secret-key-file",
        help="the key that encrypts registry tokens, kept apart from the data dir "
        "(default: secret.key in the data dir; env WALLAROO_REGISTRY_SECRET_KEY_FILE)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wallaroo-registry-ui", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the Wallaroo-compatible registry service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8300)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="service processes sharing the port and the database (default: 1)",
    )
    serve.add_argument(
        "--max-uploads",
        type=int,
        help="uploads one process transfers at once; the rest wait their turn "
        "(default: 4; env WALLAROO_REGISTRY_MAX_UPLOADS)",
    )
    serve.add_argument(
        "--max-upload-size",
        metavar="SIZE",
        help="the largest file an upload may bring in: bytes, or 20GiB, 500MB, ... "
        "(default: 20GiB; env WALLAROO_REGISTRY_MAX_UPLOAD_SIZE)",
    )
    serve.add_argument(
        "--allow-registry-host",
        action="append",
        metavar="HOST_OR_CIDR",
        help="let registries live at this host name, IP address or CIDR although it is "
        "loopback, link-local, unspecified or the service's own address; repeatable "
        "(env WALLAROO_REGISTRY_ALLOW_HOSTS, comma-separated)",
    )
    serve.add_argument(
        "--registry-hosts",
        action="append",
        metavar="HOST_OR_CIDR",
        help="connect to registries at these host names, IP addresses or CIDRs only; "
        "repeatable (env WALLAROO_REGISTRY_HOSTS, comma-separated)",
    )
    serve.add_argument(
        "--jupyterhub",
        action="store_true",
        help="also sign users in with their JupyterHub tokens, asked of the hub at "
        "$JUPYTERHUB_API_URL; on by itself when the hub starts the service "
        "(env WALLAROO_REGISTRY_JUPYTERHUB)",
    )
    serve.add_argument(
        "--hub-group-workspaces",
        action="store_true",
        help="with hub sign-in, each hub group is a workspace of its members "
        "(env WALLAROO_REGISTRY_HUB_GROUP_WORKSPACES)",
    )
    _store_flags(serve)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser(
        "add", help="create a user (or reuse it) and print a new API token"
    )
    add.add_argument("email")
    add.add_argument(
        "--expires-in",
        metavar="DAYS",
        help="the new API token stops working after this many days (default: never)",
    )
    add.add_argument(
        "--admin",
        action="store_true",
        help="make the user an instance admin (everything, in every workspace); "
        "without it an admin stays one",
    )
    _store_flags(add)
    revoke = user_commands.add_parser("revoke", help="revoke every API token of a user")
    revoke.add_argument("email")
    _store_flags(revoke)
    remove = user_commands.add_parser(
        "remove",
        help="remove a user: no more sign-in, out of every workspace; what they made stays",
    )
    remove.add_argument("email")
    _store_flags(remove)

    audit = commands.add_parser("audit", help="print the audit trail, newest first")
    audit.add_argument(
        "--since", help="only events from this ISO-8601 date or datetime on (2026-01-31)"
    )
    _store_flags(audit)

    demo = commands.add_parser(
        "demo",
        help="MLflow with sample models, the registry service and JupyterLab on the panel",
    )
    demo.add_argument(
        "--data-dir",
        default=".data/demo",
        help="where MLflow, the service and JupyterLab keep their state (default: .data/demo)",
    )
    demo.add_argument(
        "--notebook",
        default="notebooks/registry_browser.ipynb",
        help="the notebook JupyterLab opens (default: notebooks/registry_browser.ipynb)",
    )
    demo.add_argument(
        "--port", type=int, default=8888, help="JupyterLab's port while it is free (8888)"
    )
    demo.add_argument(
        "--reset", action="store_true", help="forget the models, uploads and tokens of earlier runs"
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    """One process, or ``--workers`` processes that build their app from the environment.

    The schema and the key file are made here first, so workers starting together on a
    fresh data dir neither race to migrate nor make keys of their own.
    """
    import os

    import uvicorn
    from sqlalchemy.orm import sessionmaker

    from wallaroo_registry_ui.server.app import encrypted_token_sample
    from wallaroo_registry_ui.server.secrets import SecretKeyError, TokenCipher
    from wallaroo_registry_ui.server.settings import settings_environment
    from wallaroo_registry_ui.server.store import make_engine, migrate

    if args.workers < 1:
        print("error: --workers: must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = _settings(
            args,
            args.max_uploads,
            max_upload_size=args.max_upload_size,
            allow_registry_hosts=args.allow_registry_host,
            registry_hosts=args.registry_hosts,
            listen_host=args.host,
            jupyterhub=args.jupyterhub,
            hub_group_workspaces=args.hub_group_workspaces,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = f"http://{args.host}:{args.port}"
    if args.workers == 1:
        from wallaroo_registry_ui.server.app import create_app

        try:
            app = create_app(settings)
        except SecretKeyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wallaroo-registry-ui serving on {where}", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        TokenCipher.from_environment(
            settings.key_file, encrypted_token_sample(sessionmaker(engine))
        )
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    os.environ.update(settings_environment(settings))
    print(f"wallaroo-registry-ui serving on {where} with {args.workers} processes", flush=True)
    uvicorn.run(
        "wallaroo_registry_ui.server.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
    )
    return 0


def _settings(  # type: ignore[no-untyped-def]
    args: argparse.Namespace, max_uploads: int | None = None, **serve_flags: Any
):
    """The settings of the store flags (``_store_flags``) a command was given, and of
    ``serve``'s own flags (``resolve_settings``' keywords)."""
    from wallaroo_registry_ui.server.settings import resolve_settings

    return resolve_settings(
        args.data_dir,
        args.database_url,
        max_uploads,
        secret_key_file=args.secret_key_file,
        **serve_flags,
    )


def _user_store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from wallaroo_registry_ui.server.store import open_store

    return open_store(_settings(args).database_url)


def _user_add(args: argparse.Namespace) -> int:
    from wallaroo_registry_ui.server.users import add_user_token, email_problem, expires_in_problem

    problem = email_problem(args.email)
    if problem:
        print(f"error: email: {problem}", file=sys.stderr)
        return 2
    days = None
    if args.expires_in is not None:
        problem = expires_in_problem(args.expires_in)
        if problem:
            print(f"error: --expires-in: {problem}", file=sys.stderr)
            return 2
        days = float(args.expires_in)
    user, token = add_user_token(
        _user_store(args), args.email, expires_in_days=days, is_admin=args.admin
    )
    lifetime = f" (expires in {args.expires_in} days)" if days is not None else ""
    admin = ", instance admin" if user.is_admin else ""
    print(f"user {user.email} ({user.id}{admin}); new API token{lifetime}:")
    print(token)
    return 0


def _user_revoke(args: argparse.Namespace) -> int:
    from wallaroo_registry_ui.server.users import UnknownUser, revoke_tokens

    try:
        count = revoke_tokens(_user_store(args), args.email)
    except UnknownUser as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"revoked {count} API token(s) of {args.email}")
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    from wallaroo_registry_ui.server.users import UnknownUser, remove_user

    try:
        removed = remove_user(_user_store(args), args.email)
    except UnknownUser as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if removed.already_removed:
        print(f"user {removed.email} was already removed")
        return 0
    print(
        f"removed user {removed.email}: {removed.tokens} API token(s) revoked, "
        f"out of {len(removed.workspaces)} workspace(s); what they created stays"
    )
    if removed.without_owner:
        print(
            "these workspaces have no owner now (an admin can add one): "
            + ", ".join(removed.without_owner)
        )
    return 0


USER_COMMANDS = {"add": _user_add, "revoke": _user_revoke, "remove": _user_remove}


def _audit(args: argparse.Namespace) -> int:
    from wallaroo_registry_ui.server.audit import events, format_event, parse_since

    since = None
    if args.since:
        try:
            since = parse_since(args.since)
        except ValueError as exc:
            print(f"error: --since: {exc}", file=sys.stderr)
            return 2
    with _user_store(args)() as session:
        found = events(session, since=since)
    for event in found:
        print(format_event(event))
    if not found:
        print("no events" + (f" since {since.isoformat()}" if since else ""))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wallaroo_registry_ui.demo.stack import run_demo

    say = functools.partial(print, flush=True)
    return run_demo(
        Path(args.data_dir), Path(args.notebook), jupyter_port=args.port, reset=args.reset, say=say
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "user":
        return USER_COMMANDS[args.user_command](args)
    if args.command == "audit":
        return _audit(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
