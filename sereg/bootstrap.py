"""The one place where sereg is put together.

``bootstrap()`` reads the settings (the environment, once, unless given), loads the rule
policies and parses the broker link's address, installs the policies the services run
with, and hands each process its parts: the web app (``app``), the ingest consumer
(``consumer``), the notification worker (``notify``) and the CLI take what they need from
one ``Bootstrap`` rather than each composing its own. A test builds one from its own
``Settings`` instead of editing the environment.

Imports run one way: sereg (this module, the CLI, the app) → ingest_mqtt → equipment
(services → domain) and geo; ``equipment.settings`` sits below them all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from equipment.broker import MqttConnection, connection_from_url
from equipment.domain import fills as fill_rules
from equipment.domain import rules
from equipment.services import accounts, clock, fills, notify_worker, policies, risk, schedules
from equipment.settings import Settings, settings_from_env
from equipment.storage import db

if TYPE_CHECKING:
    from litestar import Litestar

    from ingest_mqtt.client import BrokerLink
    from ingest_mqtt.consumer import Consumer


@dataclass(frozen=True)
class Bootstrap:
    settings: Settings
    policies: policies.Policies
    # Where the ingest consumer connects (MQTT_URL), parsed where the link lives.
    mqtt: MqttConnection

    @property
    def rules(self) -> rules.Policy:
        return self.policies.rules

    @property
    def fill_policy(self) -> fill_rules.FillPolicy:
        return self.policies.fills

    def install(self) -> Bootstrap:
        """Make this bootstrap's policies (and password costs, and clock) the ones the
        services run with."""
        policies.install(self.policies)
        clock.use(self.settings.clock)
        accounts.use_password_costs(self.settings.passwords)
        return self

    async def start_engine(self) -> None:
        """The database engine and its pool, as the settings size it."""
        await db.start(self.settings.database.pool_min, self.settings.database.pool_max)

    async def stop_engine(self) -> None:
        await db.stop()

    def app(self, *, manage_db: bool = True, settle: bool = False) -> Litestar:
        from sereg.app import create_app

        return create_app(self, manage_db=manage_db, settle=settle)

    def consumer(self, link: BrokerLink | None = None) -> Consumer:
        from ingest_mqtt.consumer import Consumer

        return Consumer(self.settings, fill_policy=self.fill_policy, mqtt=self.mqtt, link=link)

    async def run_consumer(self) -> None:
        """The ``sereg ingest`` process (ingest_mqtt.consumer.run_consumer)."""
        from ingest_mqtt.consumer import run_consumer

        await run_consumer(self.settings, self.consumer)

    async def notify(self, stop: asyncio.Event) -> None:
        """The ``sereg notify`` worker until ``stop`` is set."""
        await notify_worker.run(self.settings.notify, stop)


def bootstrap(settings: Settings | None = None) -> Bootstrap:
    """Everything a process needs from ``settings`` (the environment's when None).

    A broken policy file or a malformed MQTT_URL stops here, at the start, with its reason
    (``InvalidValue`` / ``ValueError``), not at the first request or message.
    """
    settings = settings if settings is not None else settings_from_env()
    built = policies.Policies(
        rules=schedules.load_policy(settings.rules.policy_path),
        fills=fills.fill_policy(settings.fills),
        response=settings.response,
        risk=risk.load_policy(settings.rules.policy_path),
    )
    return Bootstrap(settings, built, connection_from_url(settings.mqtt.url)).install()
