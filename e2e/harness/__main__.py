"""Command line of the harness; the Justfile's recipes call it.

python -m harness up|reset|down|env|test-db [FILES...]|lint-db|render-schema|apply FILE|
                 rollback VERSION|migrate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import schema, stack
from .errors import StackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up", help="start the stack (database, PostgREST, gateway) and reset its database"
    )
    sub.add_parser("reset", help="a fresh database with every migration and the seed")
    sub.add_parser("down", help="stop the stack")
    sub.add_parser("env", help="print the stack's variables, as `supabase status -o env` does")
    test_db = sub.add_parser("test-db", help="run the pgTAP files")
    test_db.add_argument("files", nargs="*")
    sub.add_parser(
        "lint-db",
        help="`supabase db lint` over public, private and stats, then `supabase db advisors`; "
        "a warning fails",
    )
    sub.add_parser(
        "render-schema", help="reset the embedded stack and write supabase/schema.sql from it"
    )
    apply = sub.add_parser("apply", help="run one SQL file as postgres, in one transaction")
    apply.add_argument("file", type=Path)
    rollback = sub.add_parser(
        "rollback", help="undo one migration with its rollback script and mark it reverted"
    )
    rollback.add_argument("version", help="the migration's version, e.g. 20261125000007")
    sub.add_parser("migrate", help="apply the migrations not yet applied, without the seed")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            stack.up()
        elif args.command == "reset":
            stack.reset()
        elif args.command == "down":
            stack.down()
        elif args.command == "env":
            for key, value in stack.current().env().items():
                print(f'{key}="{value}"')
        elif args.command == "test-db":
            return stack.test_db(args.files)
        elif args.command == "lint-db":
            return stack.lint_db()
        elif args.command == "render-schema":
            print(f"wrote {schema.write().relative_to(schema.PROJECT_ROOT)}")
        elif args.command == "apply":
            stack.apply_sql_file(args.file)
        elif args.command == "rollback":
            stack.rollback(args.version)
        elif args.command == "migrate":
            stack.migrate()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
