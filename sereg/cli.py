"""``sereg``: one command for everything the service does."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from equipment.settings import Settings, settings_from_env
from sereg import import_cli

if TYPE_CHECKING:
    from sereg.bootstrap import Bootstrap

# Piccolo finds its engine through this module; set before any table is touched.
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")

_boot: Bootstrap | None = None


def current_settings() -> Settings:
    """This command's settings: the bootstrap's when built, else read from the environment
    (a command that only opens the database needs no policy file nor broker address)."""
    return _boot.settings if _boot is not None else settings_from_env()


def boot() -> Bootstrap:
    """The bootstrap of a command that runs services, built once; a broken policy file or
    MQTT_URL ends the command in one line."""
    global _boot
    if _boot is None:
        from equipment.domain.errors import InvalidValue
        from sereg.bootstrap import bootstrap

        try:
            _boot = bootstrap()
        except (InvalidValue, ValueError) as exc:
            raise SystemExit(f"error: {exc}") from exc
    return _boot


def open_database(*, create: bool = False, server: bool = False) -> None:
    """Say which database this command opens, on stderr; unless the command creates it
    (``create``), refuse in one line a database that is missing or not migrated.

    A ``server`` on PostgreSQL only warns: a deployment may start it beside the job that
    migrates, and its /ready answers 503 until that is done. A SQLite file is local, and
    nothing but this machine's user will migrate it.
    """
    from sereg import database

    database_settings = current_settings().database
    try:
        where = database.describe(database_settings)
        problem = None if create else database.problem(database_settings)
    except ValueError as exc:  # a DATABASE_URL sereg cannot use
        raise SystemExit(f"error: {exc}") from exc
    print(f"sereg: database {where}", file=sys.stderr, flush=True)
    if problem is not None and server and database_settings.is_postgres:
        print(f"warning: {problem}; /ready answers 503 until then", file=sys.stderr, flush=True)
    elif problem is not None:
        raise SystemExit(f"error: {problem}")
    if create and not database_settings.is_postgres:
        database_settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)


async def migrate() -> None:
    from equipment.storage import migrations

    try:
        await migrations.migrate()
    except migrations.MigrationFailed as exc:
        raise SystemExit(f"migration failed: {exc}") from exc


async def _with_db(coro_factory):
    parts = boot()
    await parts.start_engine()
    try:
        return await coro_factory()
    finally:
        await parts.stop_engine()


async def seed_demo(units: int, seed: int, *, quiet: bool = False) -> bool:
    """Load the demo city if the register is empty; True if it was loaded."""
    from equipment.demo.load import load_demo_city, register_is_empty
    from equipment.services import clock

    if not await register_is_empty():
        print("the register already has units; demo city not loaded", file=sys.stderr)
        await print_token_hint()
        return False
    org_ids = await load_demo_city(
        seed=seed, units=units, today=clock.today(), now=clock.now(), show_progress=not quiet
    )
    await print_demo_tokens(org_ids)
    await _demo_random_inspections(org_ids, seed)
    await _demo_campaigns(org_ids, seed)
    return True


async def _demo_campaigns(org_ids: dict[str, list[int]], seed: int) -> None:
    """A special campaign with its 回头看, and post-licence supervision's licences and
    annual reports (equipment/demo/campaigns.py)."""
    from equipment.demo.campaigns import add_campaign, add_licences
    from equipment.domain.access import SYSTEM
    from equipment.services import campaigns, clock, credit

    today, now = clock.today(), clock.now()
    count, looked = await add_campaign(today=today, now=now, seed=seed)
    units: list[int] = []
    made = await campaigns.list_campaigns(SYSTEM)
    if made:
        first = min(made, key=lambda c: c.id)
        tasks = await campaigns.list_tasks(SYSTEM, first.id)
        units = [t.equipment for t in tasks if t.equipment is not None][-2:]
    licensed = await add_licences(org_ids, units, today=today, now=now)
    # The manufacturers and installers just added get their credit classes.
    await credit.assess_all(SYSTEM, today=today, now=now)
    print(
        f"special campaign: {count} tasks, 回头看 {looked} (/ui/campaigns);"
        f" licences: {licensed} (/ui/licences)"
    )


async def _demo_random_inspections(org_ids: dict[str, list[int]], seed: int) -> None:
    """A year of plans, draws and published results (equipment/demo/draws.py), the demo
    inspector on the roster so his task list has work."""
    from equipment.demo.draws import add_random_inspections
    from equipment.domain.access import SYSTEM
    from equipment.services import accounts, clock

    inspector = next(
        (a.id for a in await accounts.list_accounts(SYSTEM) if a.username == "demo-inspector"),
        None,
    )
    made = await add_random_inspections(
        org_ids, today=clock.today(), now=clock.now(), seed=seed, inspector_account=inspector
    )
    print(f"\nrandom inspections: 2 plans, {made} tasks (/p/draws, /ui/draws/tasks)")


async def print_demo_tokens(org_ids: dict[str, list[int]]) -> None:
    from equipment.domain.access import SYSTEM, Role
    from equipment.services import clock, tokens

    print("\nTokens to try the API with (shown once; send as 'Authorization: Bearer ...'):")
    for role, kind in (
        (Role.ADMIN, None),
        (Role.INSPECTOR, "inspection_body"),
        (Role.MAINTENANCE, "maintenance_company"),
        (Role.USER_UNIT, "user_unit"),
        (Role.STATION, "filling_station"),
    ):
        org = org_ids[kind][0] if kind else None
        secret, _ = await tokens.create_token(
            SYSTEM, role=role, organisation_id=org, label="demo", now=clock.now()
        )
        owner = f" (organisation {org})" if org else ""
        print(f"  {role.value:<12}{owner:<20} {secret}")
    await print_demo_accounts(org_ids)
    sys.stdout.flush()


async def print_demo_accounts(org_ids: dict[str, list[int]]) -> None:
    """One account per role to log in to the pages with, its password shown once."""
    from equipment.domain.access import ROLE_ORG_KIND, SYSTEM, Role
    from equipment.services import accounts, clock

    print("\nAccounts to log in to the pages with at /login (passwords shown once):")
    for role in Role:
        kind = ROLE_ORG_KIND[role]
        org = org_ids[kind.value][0] if kind is not None and org_ids.get(kind.value) else None
        username, password = f"demo-{role.value.replace('_', '-')}", accounts.new_password()
        await accounts.create_account(
            SYSTEM,
            username=username,
            password=password,
            role=role,
            organisation_id=org,
            jurisdiction=None,
            now=clock.now(),
        )
        print(f"  {role.value:<12} user {username:<18} password {password}")


# The demo city's accounts, one per role, as print_demo_tokens made tokens for them.
DEMO_ROLES = (
    ("admin", None),
    ("inspector", "inspection_body"),
    ("maintenance", "maintenance_company"),
    ("user_unit", "user_unit"),
    ("station", "filling_station"),
)


def sereg_command() -> str:
    """How the user can run ``sereg``: its name when it is on PATH, else the script
    beside this interpreter (quickstart's .venv is not on PATH)."""
    import shutil

    beside = Path(sys.executable).parent / "sereg"
    found = shutil.which("sereg")
    if found or not beside.exists():
        return "sereg"
    return str(beside)


async def print_token_hint() -> None:
    """A register that was loaded before: its tokens were shown once, then, and only
    their hashes are kept. Say how to make a new one for each demo account."""
    from equipment.storage import demo_load

    sereg = sereg_command()
    print("\nTokens are shown only when they are made. To make one to try the API with:")
    for role, kind in DEMO_ROLES:
        org = None
        if kind is not None:
            org = await demo_load.first_organisation(kind)
            if org is None:
                continue
        account = f" --org {org.id}" if org else ""
        note = f"   # {org.name}" if org else ""
        print(f"  {sereg} token create --role {role}{account}{note}")
    print(f"({sereg} token list shows the tokens made so far; the demo city's are labelled demo)")
    print(
        f"Passwords too are shown only once; {sereg} user create --username ... --role ..."
        " makes another account to log in to the pages with."
    )
    sys.stdout.flush()


async def _a_demo_lift() -> str | None:
    """The registration code of one lift in use, to show its public page."""
    from equipment.storage import demo_load

    return await demo_load.a_lift_in_use()


def cmd_migrate(_: argparse.Namespace) -> None:
    open_database(create=True)
    asyncio.run(migrate())


def cmd_demo(args: argparse.Namespace) -> None:
    if args.action == "legacy-export":
        from equipment.demo.legacy_export import write_legacy_export
        from equipment.services import clock

        manifest = write_legacy_export(
            Path(args.out), rows=args.rows, seed=args.seed, units=args.units, today=clock.today()
        )
        print(f"wrote {args.out} ({manifest['rows']:,} rows, {manifest['encoding']})")
        print(f"wrote {manifest['manifest']}: the defects it planted")
        return
    if args.province or args.province_finish:
        _province(args)
        return
    open_database(create=True)
    asyncio.run(migrate())
    asyncio.run(_with_db(lambda: seed_demo(args.units, args.seed)))


def _province(args: argparse.Namespace) -> None:
    """``sereg demo --province``: a province's cylinders, set-based (equipment/demo/province.py)."""
    from equipment.demo.province import load_province
    from equipment.domain.errors import InvalidValue
    from equipment.services import clock
    from equipment.storage import province

    if not current_settings().database.is_postgres:
        sys.exit(
            "sereg demo --province: PostgreSQL only (it generates the register with"
            " INSERT … SELECT over generate_series); set DATABASE_URL to a PostgreSQL database"
        )
    open_database(create=True)
    asyncio.run(migrate())

    def step(name: str, seconds: float) -> None:
        print(f"{name}: {seconds:.1f} s", flush=True)

    async def run() -> None:
        province.require_postgres()
        if args.province_finish:
            done = await province.finish(step, jobs=args.jobs)
            print(f"{done} deferred statements run")
            await report()
            return
        written = await load_province(
            units=args.units,
            seed=args.seed,
            today=clock.today(),
            now=clock.now(),
            step=step,
            jobs=args.jobs,
            defer=args.defer_indexes,
        )
        print("rows: " + ", ".join(f"{t} {n:,}" for t, n in written.items()))
        await report()

    async def report() -> None:
        for table, rows, heap, indexes in await province.sizes():
            print(
                f"{table}: ~{rows:,} rows, heap {heap / 2**20:,.0f} MiB,"
                f" indexes {indexes / 2**20:,.0f} MiB"
            )
        print(f"database: {await province.database_size() / 2**30:.2f} GiB")

    try:
        asyncio.run(_with_db(run))
    except (ValueError, InvalidValue) as error:
        sys.exit(f"sereg demo --province: {error}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    config = boot().settings
    open_database(create=args.demo, server=True)
    if args.demo:
        asyncio.run(migrate())
        asyncio.run(_with_db(lambda: seed_demo(args.units, args.seed)))
    host = args.host or config.http.host
    port = args.port or config.http.port
    if args.ingest:
        if args.workers != 1:
            raise SystemExit(
                "--ingest runs the consumer inside the one API process: use --workers 1"
            )
        # The app is built by uvicorn from sereg.asgi, whose bootstrap reads the environment.
        os.environ["SEREG_INGEST_IN_PROCESS"] = "1"
        print(f"ingesting MQTT from {config.mqtt.url} in this process")
    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker counts in its own process; /metrics on any of them adds them up.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sereg-metrics-")
    if args.demo:
        lift = asyncio.run(_with_db(_a_demo_lift))
        if lift:
            # The page a lift's QR code opens (公众查询端), Chinese first; ?lang=en for English.
            print(
                f"public page of a demo lift (its QR code's target): http://{host}:{port}/p/{lift}"
            )
    print(f"sereg serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    print(f"staff pages (log in): http://{host}:{port}/login")
    uvicorn.run(
        "sereg.asgi:app",
        host=host,
        port=port,
        workers=args.workers,
        log_level="info",
        log_config=None,  # sereg.observability configures logging (text or JSON lines)
        access_log=False,
    )


def cmd_ingest(_: argparse.Namespace) -> None:
    from sereg.observability import configure_logging

    parts = boot()
    configure_logging(json_lines=parts.settings.log_json)
    asyncio.run(parts.run_consumer())


def cmd_notify(_: argparse.Namespace) -> None:
    """The notification worker: escalation timers, webhook delivery and (with
    SEREG_NOTIFY_MQTT_URL) the organisations' MQTT alert topics, until SIGTERM."""
    import signal

    from sereg.observability import configure_logging

    open_database()
    parts = boot()  # a broken policy file (escalation waits) stops the start
    configure_logging(json_lines=parts.settings.log_json)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("sereg notify: running", file=sys.stderr, flush=True)
        await parts.notify(stop)

    asyncio.run(_with_db(run))


def _checkout() -> Path:
    """The checkout ``sereg bench`` and ``sereg simulate`` run from: their code (bench/)
    is a tool beside the product, not installed with it."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "run_all.py").exists():
        raise SystemExit(
            "sereg bench and sereg simulate run from a checkout of the repository"
            " (bench/ is not installed)"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


def _simulator() -> ModuleType:
    _checkout()
    import bench.simulator

    return bench.simulator


def cmd_simulate(args: argparse.Namespace) -> None:
    open_database()
    import uuid
    from datetime import timedelta

    from equipment.broker import connection_from_url
    from equipment.services import clock

    simulator = _simulator()
    parts = boot()
    settings = parts.settings
    try:
        conn = connection_from_url(args.url) if args.url else parts.mqtt
        qos0_conn = connection_from_url(args.qos0_url) if args.qos0_url else None
        policy = parts.fill_policy
        config = simulator.SimConfig(
            rate=args.rate,
            heartbeat_interval_s=args.heartbeat_interval,
            heartbeat_qos=args.heartbeat_qos,
            fault_share=args.fault_share,
            bad_share=args.bad_share,
            malformed_share=args.malformed_share,
            min_refill_interval=timedelta(minutes=settings.fills.min_refill_minutes),
            policy=policy,
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    register = asyncio.run(
        _with_db(
            lambda: simulator.load_register(
                lifts=args.lifts, stations=args.stations, now=clock.now(), policy=policy
            )
        )
    )
    if not register.lifts and not register.stations:
        raise SystemExit(
            "error: the register has no lifts in use and no filling stations with a station"
            " code to simulate: load one first (sereg demo)"
        )
    seconds = args.seconds if args.seconds is not None or args.count is not None else 10.0
    print(f"simulating {register.summary()} against {conn.host}:{conn.port}")
    warning = simulator.refill_warning(register, config)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        report = simulator.simulate(
            register,
            config,
            conn,
            seed=args.seed,
            count=args.count,
            seconds=seconds,
            client_id=args.client_id or f"sereg-sim-{uuid.uuid4().hex[:8]}",
            max_outstanding=args.max_outstanding or simulator.MAX_OUTSTANDING,
            qos0_conn=qos0_conn,
        )
    except (OSError, ConnectionError) as exc:
        raise SystemExit(f"error: cannot publish to {conn.host}:{conn.port}: {exc}") from exc
    print("\n".join(report.lines()))
    if report.acked is False:
        raise SystemExit(1)


def cmd_broker_users(args: argparse.Namespace) -> None:
    """Write the broker's dynamic-security configuration for every station and lift on the
    register, the ingest workers and any admin (ingest_mqtt/credentials.py)."""
    open_database()
    import csv

    from equipment.services import devices
    from ingest_mqtt import credentials

    found = asyncio.run(_with_db(devices.device_usernames))
    organisations = asyncio.run(_with_db(devices.alerted_organisations))
    users = credentials.Users(
        stations=found["station"],
        lifts=found["lift"],
        workers=args.ingest_worker,
        admins=args.admin,
        notifiers=args.notify_worker,
        organisations=organisations,
    )
    kinds = {user: kind for kind, names in found.items() for user in names}
    kinds.update({name: "ingest worker" for name in args.ingest_worker})
    kinds.update({name: "admin" for name in args.admin})
    kinds.update({name: "notify worker" for name in args.notify_worker})
    kinds.update({credentials.organisation_username(o): "organisation" for o in organisations})
    out = Path(args.out)
    existing = credentials.parse_clients(out.read_text()) if args.merge and out.exists() else {}
    try:
        document, issued = credentials.dynamic_security(
            users, group=current_settings().ingest.group, existing=existing
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    out.touch(mode=0o640)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    issued_path = Path(args.issued)
    issued_path.touch(mode=0o600)
    with issued_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["username", "kind", "password"])
        for user, password in sorted(issued.items()):
            writer.writerow([user, kinds[user], password])
    print(
        f"{out}: {len(kinds)} users ({len(found['station'])} stations, {len(found['lift'])}"
        f" lifts, {len(args.ingest_worker)} ingest workers, {len(args.notify_worker)} notify"
        f" workers, {len(organisations)} organisations, {len(args.admin)} admins);"
        f" {len(issued)} new passwords in {issued_path} (hand them to the installers, then"
        " delete the file). Restart the broker to load it."
    )


def cmd_bench(args: argparse.Namespace) -> None:
    """Every benchmark, then docs/benchmarks.md rewritten (bench/run_all.py): its options
    (``sereg bench --help``) are bench/run_all.py's own."""
    _checkout()
    from bench.run_all import main as run_all

    raise SystemExit(run_all(args.bench_args))


def cmd_prune(_: argparse.Namespace) -> None:
    """Delete telemetry and dead letters past their retention; report what went."""
    open_database()
    from equipment.domain.errors import DomainError
    from equipment.services import clock, retention
    from ingest_mqtt.consumer import retention_of

    try:
        policy = retention_of(boot().settings)
        removed = asyncio.run(_with_db(lambda: retention.prune(policy, now=clock.now())))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc
    kept = {"fill": policy.fill_days, "lift_event": policy.lift_event_days}
    for table, count in removed.items():
        print(f"{table}: {count:,} rows removed")
    for table, days in kept.items():
        if days is None:
            print(f"{table}: kept (no retention set)")


def cmd_token(args: argparse.Namespace) -> None:
    open_database()
    from equipment.domain.access import SYSTEM, Jurisdiction, Role
    from equipment.domain.errors import DomainError
    from equipment.services import clock, tokens

    async def run() -> None:
        if args.action == "create":
            secret, row = await tokens.create_token(
                SYSTEM,
                role=Role(args.role),
                organisation_id=args.org,
                label=args.label,
                now=clock.now(),
                jurisdiction=Jurisdiction.parse(args.jurisdiction),
            )
            print(f"token {row.id} ({row.role}): {secret}")
            print("store it now: only its hash is kept", file=sys.stderr)
        elif args.action == "revoke":
            await tokens.revoke_token(SYSTEM, args.id, now=clock.now())
            print(f"token {args.id} revoked")
        else:
            for token in await tokens.list_tokens():
                state = "revoked" if token.revoked_at else "live"
                print(
                    f"{token.id:>5} {token.prefix}… {token.role:<12} "
                    f"org={token.organisation} {state} {token.label}"
                )

    try:
        asyncio.run(_with_db(run))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc


def cmd_draw(args: argparse.Namespace) -> None:
    """``sereg draw verify <id>``: run a past draw again from its stored inputs;
    ``sereg draw assess``: compute every enterprise's credit class now."""
    open_database()
    from equipment.domain.access import SYSTEM
    from equipment.domain.errors import DomainError
    from equipment.services import clock, credit, draws

    async def run() -> int:
        if args.action == "assess":
            changed = await credit.assess_all(SYSTEM, today=clock.today(), now=clock.now())
            for kind, n in changed.items():
                print(f"{kind}: {n} classes changed")
            return 0
        check = await draws.verify_draw(args.id)
        print(
            f"draw {args.id}: {check.verdict}"
            f" (inputs {'match' if check.inputs_match else 'ALTERED'},"
            f" result {'match' if check.result_match else 'DIFFERS'})"
        )
        return 0 if check.matches else 1

    try:
        code = asyncio.run(_with_db(run))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc
    raise SystemExit(code)


def cmd_calendar(args: argparse.Namespace) -> None:
    """``sereg calendar holidays import FILE``: list public holidays and 调休 working
    weekends (``date,kind[,note]`` lines); ``sereg calendar holidays list``."""
    from equipment.domain.access import SYSTEM
    from equipment.domain.errors import DomainError
    from equipment.services import clock, work_calendar

    text = ""
    if args.action == "import":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: cannot read {args.file}: {exc}") from exc
    open_database()

    async def run() -> None:
        if args.action == "import":
            n = await work_calendar.import_days(SYSTEM, text, now=clock.now())
            print(f"{n} days listed")
        else:
            for day in await work_calendar.listed():
                print(f"{day.day},{day.kind},{day.note}")

    try:
        asyncio.run(_with_db(run))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc


ROLE_CHOICES = ["admin", "inspector", "maintenance", "user_unit", "station", "call_centre"]
JURISDICTION_HELP = (
    "inspectors only: the districts and areas they see, e.g. 420602,420606,area:12"
    " (district codes, area ids of the area import: streets, communities)"
)


def cmd_user(args: argparse.Namespace) -> None:
    open_database()
    from equipment.domain.access import SYSTEM, Jurisdiction, Role
    from equipment.domain.errors import DomainError
    from equipment.services import accounts, clock

    async def run() -> None:
        if args.action == "create":
            password = args.password or os.environ.get("SEREG_PASSWORD") or ""
            made = not password
            password = password or accounts.new_password()
            row = await accounts.create_account(
                SYSTEM,
                username=args.username,
                password=password,
                role=Role(args.role),
                organisation_id=args.org,
                jurisdiction=Jurisdiction.parse(args.jurisdiction),
                now=clock.now(),
            )
            print(f"account {row.id} {row.username} ({row.role}) created")
            if made:
                print(f"password: {password}")
                print("store it now: only its hash is kept", file=sys.stderr)
        elif args.action == "disable":
            await accounts.disable_account(SYSTEM, args.username, now=clock.now())
            print(f"account {args.username} disabled; its sessions are ended")
        else:
            for account in await accounts.list_accounts(SYSTEM):
                state = "disabled" if account.disabled_at else "active"
                print(
                    f"{account.id:>5} {account.username:<24} {account.role:<12} "
                    f"org={account.organisation} {state} {account.jurisdiction}"
                )

    try:
        asyncio.run(_with_db(run))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc


def cmd_areas(args: argparse.Namespace) -> None:
    from equipment.demo.load import Progress
    from equipment.domain.access import SYSTEM
    from equipment.domain.errors import DomainError
    from equipment.services import areas, clock, membership

    def reassigned(result: membership.Reassignment) -> None:
        print(
            f"{result.located_units:,} located units in {result.areas:,} areas:"
            f" {result.memberships:,} memberships ({result.added:,} added,"
            f" {result.removed:,} removed) in {result.seconds:.1f} s"
            f" (read {result.read_s:.1f} s, assign {result.assign_s:.1f} s,"
            f" write {result.write_s:.1f} s)"
        )

    async def run() -> None:
        if args.action == "import":
            report = await areas.import_feature_collection(
                SYSTEM, document, crs=args.crs, now=clock.now(), progress=Progress
            )
            print(
                f"{report.received} features: {report.created} created, {report.updated} updated,"
                f" {report.unchanged} unchanged, {len(report.rejected)} rejected,"
                f" {len(report.repaired)} repaired"
            )
            for rejection in report.rejected:
                print(f"  feature {rejection.index}: {rejection.reason}", file=sys.stderr)
            if report.reassignment is not None:
                reassigned(report.reassignment)
        else:
            reassigned(await membership.reassign_all(progress=Progress))

    document = None
    if args.action == "import":
        try:
            document = json.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: cannot read {args.file}: {exc}") from exc
    open_database()
    try:
        asyncio.run(_with_db(run))
    except DomainError as exc:
        raise SystemExit(f"error: {exc.reason}") from exc


RULES_DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def cmd_rules(args: argparse.Namespace) -> None:
    """Write docs/rules.md from the code's rule tables, or check that it is current."""
    from equipment.domain.rules_document import render

    text = render()
    target = Path(args.output) if args.output else RULES_DOC
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            raise SystemExit(f"{target} is out of date: run `sereg rules doc`")
        print(f"{target} is current")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} ({len(text.splitlines())} lines)")


RISK_DOC = Path(__file__).resolve().parent.parent / "docs" / "risk.md"


def cmd_risk(args: argparse.Namespace) -> None:
    """Recompute every unit's risk grade, or write/check docs/risk.md."""
    if args.action == "doc":
        from equipment.domain.risk_document import render

        text = render()
        target = Path(args.output) if args.output else RISK_DOC
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != text:
                raise SystemExit(f"{target} is out of date: run `sereg risk doc`")
            print(f"{target} is current")
            return
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target} ({len(text.splitlines())} lines)")
        return
    from equipment.demo.load import Progress
    from equipment.services import clock, risk

    bar: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(Progress(total, "risk grades"))
        bar[0].advance(done - bar[0].done)

    async def run() -> None:
        result = await risk.recompute_all(now=clock.now(), batch=args.batch, progress=progress)
        print(
            f"{result.units:,} units graded, {result.changed:,} changed, in {result.seconds:.1f} s"
        )

    boot()
    open_database()
    asyncio.run(_with_db(run))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sereg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="migrate and load the demo city first if the register is empty",
    )
    serve.add_argument("--units", type=int, default=5000)
    serve.add_argument("--seed", type=int, default=420600)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--ingest",
        action="store_true",
        help="also run the MQTT consumer in this process (a first run; production runs"
        " `sereg ingest` workers)",
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "notify", help="run the notification worker (escalations, webhook delivery)"
    ).set_defaults(func=cmd_notify)
    sub.add_parser(
        "ingest", help="run the MQTT consumer (MQTT_URL): fills, lift status and events"
    ).set_defaults(func=cmd_ingest)

    simulate = sub.add_parser(
        "simulate",
        help="publish simulated lift heartbeats, lift faults and fills of the register's"
        " own lifts, stations and cylinders (MQTT contract v1)",
        description="The broker user in --url must be allowed to publish under sereg/v1/#"
        " for every simulated station and lift (the shipped ACL lets a device publish"
        " only under its own code). Stops after --count messages or --seconds (default 10 s).",
    )
    simulate.add_argument("--url", help="mqtt://user:password@host:port (default: MQTT_URL)")
    simulate.add_argument(
        "--qos0-url",
        help="a second broker user for the QoS 0 heartbeats' own connection (default: --url's"
        " user). Needed against the repo's broker config, which names each session after its"
        " username: two connections of one user would take each other's session",
    )
    simulate.add_argument("--lifts", type=int, default=50, help="lifts to simulate (default 50)")
    simulate.add_argument(
        "--stations", type=int, default=5, help="filling stations to simulate (default 5)"
    )
    simulate.add_argument(
        "--rate", type=float, default=100, help="messages per second, all kinds (default 100)"
    )
    simulate.add_argument("--seconds", type=float, help="stop after this long")
    simulate.add_argument("--count", type=int, help="stop after this many messages")
    simulate.add_argument(
        "--heartbeat-interval", type=float, default=60, help="seconds between one lift's heartbeats"
    )
    simulate.add_argument("--heartbeat-qos", type=int, choices=[0, 1], default=0)
    simulate.add_argument(
        "--fault-share", type=float, default=0.02, help="share of lift messages that are faults"
    )
    simulate.add_argument(
        "--bad-share", type=float, default=0.05, help="share of fills meant to be refused"
    )
    simulate.add_argument(
        "--malformed-share",
        type=float,
        default=0.0,
        help="share of messages the contract refuses (dead letters)",
    )
    simulate.add_argument("--seed", type=int, default=420600)
    simulate.add_argument("--client-id", help="MQTT client id (default: random)")
    simulate.add_argument(
        "--max-outstanding",
        type=int,
        help="QoS 1 messages awaiting the broker's PUBACK at most (default 200)",
    )
    simulate.set_defaults(func=cmd_simulate)

    demo = sub.add_parser("demo", help="load the synthetic Xiangyang demo city")
    demo.add_argument(
        "action",
        nargs="?",
        choices=["legacy-export"],
        help="legacy-export: write a messy register export of the demo city (and a manifest)",
    )
    demo.add_argument("--units", type=int, default=5000)
    demo.add_argument(
        "--province",
        action="store_true",
        help="a province's gas cylinders, generated in PostgreSQL set at a time (up to 10^7"
        " units; no year of activity); PostgreSQL only",
    )
    demo.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 2,
        help="--province: statements written side by side (default: one per core)",
    )
    demo.add_argument(
        "--defer-indexes",
        action="store_true",
        help="--province: build only the keys the due list and the fill permit read, the"
        " foreign keys NOT VALID; the rest later with --province-finish",
    )
    demo.add_argument(
        "--province-finish",
        action="store_true",
        help="build the indexes and validate the foreign keys a --defer-indexes load left",
    )
    demo.add_argument("--seed", type=int, default=420600)
    demo.add_argument("--rows", type=int, default=2000, help="legacy-export: rows to write")
    demo.add_argument("--out", default="legacy-export.csv", help="legacy-export: .csv or .xlsx")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser(
        "bench",
        help="run every benchmark and rewrite docs/benchmarks.md (--quick for a smoke run)",
        add_help=False,
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    sub.add_parser(
        "prune",
        help="delete heartbeats and dead letters past their retention (SEREG_RETAIN_*)",
    ).set_defaults(func=cmd_prune)

    broker = sub.add_parser(
        "broker-users",
        help="issue broker credentials: Mosquitto's dynamic-security configuration for every"
        " station, lift and ingest worker",
    )
    broker.add_argument(
        "--out", required=True, help="the plugin configuration to write (dynamic-security.json)"
    )
    broker.add_argument(
        "--issued", required=True, help="CSV of the new passwords (mode 0600), shown once"
    )
    broker.add_argument(
        "--merge",
        action="store_true",
        help="keep the passwords of users already in --out; issue only for new ones",
    )
    broker.add_argument(
        "--ingest-worker",
        action="append",
        default=[],
        help="an ingest worker's broker user, one per worker (its username is its session's"
        " client id), e.g. sereg-ingest-1 (repeatable)",
    )
    broker.add_argument(
        "--notify-worker",
        action="append",
        default=[],
        help="a notification worker's broker user (publishes the organisations' alert"
        " topics), e.g. sereg-notify-1 (repeatable)",
    )
    broker.add_argument(
        "--admin",
        action="append",
        default=[],
        help="a user that may change clients and roles at run time with mosquitto_ctrl"
        " (repeatable; none by default)",
    )
    broker.set_defaults(func=cmd_broker_users)

    token = sub.add_parser("token", help="create, revoke or list API tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create")
    create.add_argument(
        "--role",
        required=True,
        choices=ROLE_CHOICES,
    )
    create.add_argument("--org", type=int, help="organisation id the token acts for")
    create.add_argument("--label", default="")
    create.add_argument("--jurisdiction", default="", help=JURISDICTION_HELP)
    revoke = token_sub.add_parser("revoke")
    revoke.add_argument("id", type=int)
    token_sub.add_parser("list")
    token.set_defaults(func=cmd_token)

    user = sub.add_parser("user", help="create or disable accounts to log in to the pages")
    user_sub = user.add_subparsers(dest="action", required=True)
    user_create = user_sub.add_parser("create")
    user_create.add_argument("--username", required=True)
    user_create.add_argument("--role", required=True, choices=ROLE_CHOICES)
    user_create.add_argument("--org", type=int, help="organisation id the account acts for")
    user_create.add_argument("--jurisdiction", default="", help=JURISDICTION_HELP)
    user_create.add_argument(
        "--password",
        help="the password (default: read from SEREG_PASSWORD, else one is made and printed)",
    )
    user_disable = user_sub.add_parser("disable")
    user_disable.add_argument("--username", required=True)
    user_sub.add_parser("list")
    user.set_defaults(func=cmd_user)

    area = sub.add_parser("areas", help="import areas (GeoJSON) and assign units to them")
    area_sub = area.add_subparsers(dest="action", required=True)
    imports = area_sub.add_parser(
        "import", help="import a GeoJSON FeatureCollection, then reassign every unit"
    )
    imports.add_argument("file", help="a .geojson file")
    imports.add_argument(
        "--crs",
        default="wgs84",
        choices=["wgs84", "gcj02", "bd09"],
        help="coordinate system of the file (default wgs84)",
    )
    area_sub.add_parser("reassign", help="reassign every located unit to the stored areas")
    area.set_defaults(func=cmd_areas)

    import_cli.add_parsers(sub)

    rules = sub.add_parser("rules", help="the regulatory rules document (docs/rules.md)")
    rules_sub = rules.add_subparsers(dest="action", required=True)
    doc = rules_sub.add_parser("doc", help="write docs/rules.md from the code's rule tables")
    doc.add_argument("--output", help="where to write it (default: the repo's docs/rules.md)")
    doc.add_argument(
        "--check", action="store_true", help="exit non-zero when the file is not current"
    )
    rules.set_defaults(func=cmd_rules)

    risk = sub.add_parser("risk", help="risk grades (风险分级): recompute, document")
    risk_sub = risk.add_subparsers(dest="action", required=True)
    recompute = risk_sub.add_parser(
        "recompute", help="grade every unit again (after a policy change), with a progress bar"
    )
    recompute.add_argument("--batch", type=int, default=50_000, help="units per transaction")
    risk_doc = risk_sub.add_parser("doc", help="write docs/risk.md from the factor table")
    risk_doc.add_argument("--output", help="where to write it (default: docs/risk.md)")
    risk_doc.add_argument(
        "--check", action="store_true", help="exit non-zero when the file is not current"
    )
    risk.set_defaults(func=cmd_risk)

    draw = sub.add_parser("draw", help="random inspections: verify a draw, assess credit classes")
    draw_sub = draw.add_subparsers(dest="action", required=True)
    verify = draw_sub.add_parser(
        "verify", help="run a past draw again from its published inputs: match or mismatch"
    )
    verify.add_argument("id", type=int, help="the draw's id")
    draw_sub.add_parser("assess", help="compute every enterprise's credit class now")
    draw.set_defaults(func=cmd_draw)

    calendar = sub.add_parser("calendar", help="the working-day calendar")
    calendar_sub = calendar.add_subparsers(dest="what", required=True)
    holidays = calendar_sub.add_parser(
        "holidays", help="public holidays and 调休 working weekends (every working-day count)"
    )
    holidays_sub = holidays.add_subparsers(dest="action", required=True)
    holidays_import = holidays_sub.add_parser(
        "import", help="list the days of FILE: date,kind[,note] lines, kind holiday or workday"
    )
    holidays_import.add_argument("file")
    holidays_sub.add_parser("list", help="print the listed days")
    calendar.set_defaults(func=cmd_calendar)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        cmd_bench(argparse.Namespace(bench_args=argv[1:]))
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
