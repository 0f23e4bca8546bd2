"""``wallaroo-registry-ui``: run the registry service, manage its users, start the demo."""

from __future__ import annotations

import argparse
import functools
import sys


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
    _store_flags(serve)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser(
        "add", help="create a user (or reuse it) and print a new API token"
    )
    add.add_argument("email")
    _store_flags(add)

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

    from wallaroo_registry_ui.server.secrets import TokenCipher
    from wallaroo_registry_ui.server.settings import resolve_settings, settings_environment
    from wallaroo_registry_ui.server.store import make_engine, migrate

    if args.workers < 1:
        print("error: --workers: must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = resolve_settings(
            args.data_dir,
            args.database_url,
            args.max_uploads,
            allow_registry_hosts=args.allow_registry_host,
            registry_hosts=args.registry_hosts,
            listen_host=args.host,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    where = f"http://{args.host}:{args.port}"
    if args.workers == 1:
        from wallaroo_registry_ui.server.app import create_app

        app = create_app(settings)
        print(f"wallaroo-registry-ui serving on {where}", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    TokenCipher.from_environment(settings.key_file)
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


def _user_add(args: argparse.Namespace) -> int:
    from wallaroo_registry_ui.server.settings import resolve_settings
    from wallaroo_registry_ui.server.store import open_store
    from wallaroo_registry_ui.server.users import add_user_token, email_problem

    problem = email_problem(args.email)
    if problem:
        print(f"error: email: {problem}", file=sys.stderr)
        return 2
    settings = resolve_settings(args.data_dir, args.database_url)
    user, token = add_user_token(open_store(settings.database_url), args.email)
    print(f"user {user.email} ({user.id}); new API token:")
    print(token)
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
        return _user_add(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
