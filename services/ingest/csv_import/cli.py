"""``pr-import``: import a CSV of opportunities into ingest, or replay it as an event stream."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..auth import key_for_clients
from .config import ConfigError, ImportConfig, load_config
from .mapping import Lookup, MappingResult, build_lookup, check_header, map_rows
from .sender import IngestClient, IngestRefused, IngestUnavailable, RetryPolicy, paced_batches
from .timeline import SOURCE, Derived, Mode, derive_events, not_after

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # nothing to send, or ingest refused some batches
EXIT_USAGE = 2  # bad file, column map or option
EXIT_UNREACHABLE = 3  # ingest unreachable or unavailable after every retry
SHOWN_PROBLEMS = 5

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def build_client(ingest_url: str, api_key: str | None, retries: int) -> IngestClient:
    """The HTTP client the command sends with (tests swap in a mock transport here)."""
    return IngestClient(ingest_url, api_key=key_for_clients(api_key, {SOURCE}), retry=RetryPolicy(attempts=retries))


def read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and ``(row number, row)`` pairs; the header is row 1, as in a spreadsheet."""
    handle = path.open(newline="", encoding="utf-8-sig")
    reader = csv.DictReader(handle)
    header = list(reader.fieldnames or [])

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        with handle:
            yield from enumerate(reader, start=2)

    return header, rows()


def load_lookups(config: ImportConfig, data_file: Path, overrides: dict[str, Path | None]) -> dict[str, Lookup]:
    """Read every joined table: the override path, else the file named in the map next to FILE."""
    for name, path in overrides.items():
        if path is not None and name not in config.joins:
            raise ConfigError(f"--{name} was given, but the column map has no [joins.{name}]")
    lookups = {}
    for name, spec in config.joins.items():
        path = overrides.get(name) or data_file.parent / spec.file
        if not path.is_file():
            option = f" (pass --{name})" if name in overrides else ""
            raise ConfigError(f"join {name!r}: {path} not found{option}")
        header, rows = read_csv(path)
        lookups[name] = build_lookup(spec, header, (row for _, row in rows))
    return lookups


def parse_shift(value: str | None, mode: Mode, today: dt.date) -> dt.date | None:
    """``today``, ``none`` or YYYY-MM-DD; unset means today in replay mode, none in import mode."""
    if value is None:
        value = "today" if mode is Mode.REPLAY else "none"
    if value.casefold() == "none":
        return None
    if value.casefold() == "today":
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not 'today', 'none' or a date (YYYY-MM-DD)"
        raise typer.BadParameter(message, param_hint="--shift-to") from None


@dataclass
class SendReport:
    sent: int = 0  # events in batches ingest acknowledged (2xx)
    accepted: int = 0  # what ingest counted as accepted in those answers
    refused: int = 0
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None
    unreachable: bool = False
    retries: int = 0


FileArg = Annotated[Path, typer.Argument(help="CSV of opportunities.", exists=True, dir_okay=False, readable=True)]
ConfigOpt = Annotated[
    Path | None, typer.Option(help="Column map (TOML). Default: the Maven CRM map.", exists=True, dir_okay=False)
]
TeamsOpt = Annotated[Path | None, typer.Option(help="Table joined as 'teams'. Default: sales_teams.csv next to FILE.")]
ProductsOpt = Annotated[
    Path | None, typer.Option(help="Table joined as 'products'. Default: products.csv next to FILE.")
]
ModeOpt = Annotated[Mode, typer.Option(help="import: final states; replay: a derived event stream.")]
SpeedOpt = Annotated[
    float,
    typer.Option(min=0, help="Replay at N x real time between events (86400: a day a second); 0: as fast as possible."),
]
ShiftOpt = Annotated[
    str | None,
    typer.Option(
        help="Move all dates so the data's last date is this day: today, none or YYYY-MM-DD. "
        "Default: today in replay, none in import."
    ),
]
BatchOpt = Annotated[int, typer.Option(min=1, max=5000, help="Events per request.")]
UrlOpt = Annotated[str, typer.Option(envvar="PR_INGEST_URL", help="Base URL of ingest.")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Use only the first N rows.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="PR_API_KEY",
        help="Sent as the X-API-Key header; default: the first key in PR_INGEST_API_KEYS(_FILE) that may post csv.",
    ),
]
RetriesOpt = Annotated[int, typer.Option(min=1, max=20, help="Attempts per batch on 503 or connection errors.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Map and derive events, send nothing.")]


@app.command()
def main(
    file: FileArg,
    config: ConfigOpt = None,
    teams: TeamsOpt = None,
    products: ProductsOpt = None,
    mode: ModeOpt = Mode.IMPORT,
    speed: SpeedOpt = 0,
    shift_to: ShiftOpt = None,
    batch_size: BatchOpt = 500,
    ingest_url: UrlOpt = "http://127.0.0.1:8001",
    limit: LimitOpt = None,
    api_key: KeyOpt = None,
    retries: RetriesOpt = 6,
    dry_run: DryRunOpt = False,
) -> None:
    """Import FILE into ingest (POST /v1/events) and print a summary."""
    started = time.monotonic()
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    shift = parse_shift(shift_to, mode, dt.datetime.now(dt.UTC).date())
    if speed and mode is Mode.IMPORT:
        err.print("[yellow]--speed applies to --mode replay only; importing as fast as possible.[/]")
        speed = 0

    progress = Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
    try:
        import_config = load_config(config)
        lookups = load_lookups(import_config, file, {"teams": teams, "products": products})
        header, rows = read_csv(file)
        check_header(header, import_config)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        err.print(f"[red]error:[/] {escape(file.name)} cannot be read as UTF-8 CSV: {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    if limit:
        rows = itertools.islice(rows, limit)

    with progress:
        row_task = progress.add_task("rows", total=limit)
        try:
            mapped = map_rows(_counting(rows, progress, row_task), import_config, lookups)
        except (UnicodeDecodeError, csv.Error) as exc:
            progress.stop()
            err.print(f"[red]error:[/] {escape(file.name)} cannot be read as UTF-8 CSV: {escape(str(exc))}")
            raise typer.Exit(EXIT_USAGE) from None
        progress.update(row_task, total=mapped.rows_read, completed=mapped.rows_read)
        derived = derive_events(mapped.deals, import_config, mode, shift_to=shift, default_as_of=shift)
        events, redated = not_after(derived.events, dt.datetime.now(dt.UTC))
        derived = dataclasses.replace(derived, events=events)
        if redated:
            err.print(
                f"{redated} events dated later than now are dated now (ingest refuses future events)",
                markup=False,
                highlight=False,
            )
        err.print(_plan_line(file, mode, mapped, derived), markup=False, highlight=False)
        report = SendReport()
        if not dry_run and derived.events:
            event_task = progress.add_task("events sent", total=len(derived.events))
            report = _send(derived, batch_size, speed, ingest_url, api_key, retries, progress, event_task)

    elapsed = time.monotonic() - started
    _summary(out, mode, mapped, derived, report, elapsed, dry_run)
    raise typer.Exit(_exit_code(derived, report, dry_run))


def _counting(rows, progress: Progress, task) -> Iterator[tuple[int, dict[str, str]]]:
    for n, item in enumerate(rows, start=1):
        yield item
        if n % 200 == 0:
            progress.update(task, completed=n)


def _send(derived: Derived, batch_size, speed, ingest_url, api_key, retries, progress, task) -> SendReport:
    report = SendReport()
    with build_client(ingest_url, api_key, retries) as client:
        for batch in paced_batches(derived.events, batch_size, speed=speed):
            try:
                report.accepted += client.send(batch)
                report.sent += len(batch)
            except IngestRefused as exc:
                report.refused += len(batch)
                report.problems.append(str(exc))
                if exc.is_auth:  # every other batch would be refused the same way
                    report.stopped = str(exc)
                    break
            except IngestUnavailable as exc:
                report.stopped, report.unreachable = str(exc), True
                break
            progress.advance(task, len(batch))
        report.retries = client.retries
    return report


def _plan_line(file: Path, mode: Mode, mapped: MappingResult, derived: Derived) -> str:
    profile = derived.profile
    shift = f", dates shifted {derived.shift_days:+d} days" if derived.shift_days else ""
    return (
        f"{file.name}: {len(mapped.deals)} deals -> {len(derived.events)} events ({mode.value} mode; "
        f"data as of {profile.as_of}, cycle {profile.cycle_days} days{shift})"
    )


def _summary(
    out: Console, mode: Mode, mapped: MappingResult, derived: Derived, report: SendReport, elapsed: float, dry_run: bool
) -> None:
    title = f"{mode.value.capitalize()} summary" + (" (dry run)" if dry_run else "")
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("rows read", f"{mapped.rows_read:,}")
    table.add_row("rows accepted", f"{len(mapped.deals):,}")
    table.add_row("rows rejected", f"{len(mapped.rejected):,}")
    table.add_row("events derived", f"{len(derived.events):,}")
    table.add_row("events sent", f"{report.sent:,}")
    if report.accepted != report.sent:
        table.add_row("accepted by ingest", f"{report.accepted:,}")
    if report.refused:
        table.add_row("events refused", f"{report.refused:,}")
    if report.retries:
        table.add_row("retries", f"{report.retries:,}")
    table.add_row("elapsed", f"{elapsed:.1f} s")
    table.add_row("events/s", f"{report.sent / elapsed:,.0f}" if elapsed > 0 else "-")
    out.print(table)
    for rejection in mapped.rejected[:SHOWN_PROBLEMS]:
        out.print(f"rejected {rejection}", markup=False, highlight=False)
    if len(mapped.rejected) > SHOWN_PROBLEMS:
        out.print(f"... and {len(mapped.rejected) - SHOWN_PROBLEMS} more rejected rows")
    for problem in report.problems[:SHOWN_PROBLEMS]:
        out.print(problem, markup=False, highlight=False)
    if report.stopped:
        out.print(f"stopped: {report.stopped}", markup=False, highlight=False)


def _exit_code(derived: Derived, report: SendReport, dry_run: bool) -> int:
    if report.unreachable:
        return EXIT_UNREACHABLE
    if report.stopped:
        return EXIT_INCOMPLETE
    if dry_run:
        return EXIT_OK if derived.events else EXIT_INCOMPLETE
    if report.sent == 0 or report.refused:
        return EXIT_INCOMPLETE
    return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
