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
    import uvicorn

    from wallaroo_registry_ui.server.app import create_app
    from wallaroo_registry_ui.server.settings import resolve_settings

    settings = resolve_settings(args.data_dir, args.database_url)
    app = create_app(settings)
    print(f"wallaroo-registry-ui serving on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
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
