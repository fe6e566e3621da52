"""``seed`` and ``datasets``: the kit's dataset schemas, loaded, listed and dropped."""

from __future__ import annotations

import argparse
import os
import sys

from perfkit.commands._options import Command, add_subject
from perfkit.data import server
from perfkit.data.datasets import dataset_schema, drop_dataset_schema, owned_schemas, seed_dataset
from perfkit.data.instances import list_instances, read_instance
from perfkit.errors import ConfigurationError
from perfkit.measure.instructions import drop_backend
from perfkit.subject import load_subject


class SeedCommand(Command):
    name = "seed"
    help = "load instances into kit-owned schemas (reused while complete)"
    group = "maintain"
    example = "seed quick"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("instances", nargs="*", help="instance names (default: all of the subject's)")
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        subject = load_subject(args.subject)
        with server.connect(server.resolve_server().dsn, autocommit=True) as conn:
            for name in args.instances or list_instances(subject):
                dataset = seed_dataset(conn, read_instance(name, subject), progress=sys.stderr.isatty())
                state = "reused" if dataset.reused else f"loaded in {dataset.seconds:.1f} s"
                print(f"{name}: {dataset.rows:,} rows in {dataset.schema} ({state})")
        return 0


class DatasetsCommand(Command):
    name = "datasets"
    help = "list the kit's dataset schemas, drop them with --drop, or remove the embedded server's data"
    group = "maintain"
    example = "datasets --drop"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--drop",
            nargs="*",
            metavar="INSTANCE",
            help="drop these instances' schemas (none named: all)",
        )
        parser.add_argument(
            "--reset-server",
            action="store_true",
            help="remove the embedded server's data directory (.pgdata, or PERFKIT_PGDATA), damaged or not: it "
            "holds only the kit's datasets, loaded again from the instances on the next run",
        )
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        if args.reset_server:
            if server.resolve_configured_server(os.environ) is not None:
                raise ConfigurationError("--reset-server resets the embedded server; unset DATABASE_URL and POSTGRES_*")
            pgdata = server.embedded_data_dir()
            server.reset_embedded_server(pgdata)
            print(f"removed {pgdata}: the next run starts a fresh embedded server and loads the datasets again")
            return 0
        with server.connect(server.resolve_server().dsn, autocommit=True) as conn:
            owned = owned_schemas(conn)
            if args.drop is None:
                for schema, complete in sorted(owned.items()):
                    print(f"{schema}\t{'complete' if complete else 'incomplete'}")
                return 0
            subject = load_subject(args.subject)
            targets = [dataset_schema(read_instance(n, subject)) for n in args.drop] if args.drop else list(owned)
            for schema in targets:
                drop_dataset_schema(conn, schema)
                drop_backend(schema)
                print(f"dropped {schema} (and its counting copy, if any)")
        return 0
