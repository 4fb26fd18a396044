"""The apps the tests run: one per settings in each test process."""

from __future__ import annotations

from collections import OrderedDict

from litestar import Litestar

from equipment.services.alarm_feed import AlarmFeed
from equipment.settings import Settings
from sereg.bootstrap import Bootstrap

# Building the app (its ~230 routes) costs 0.4-1.7 s of CPU on this kind of machine, more
# than most tests it serves: it was two thirds of the suite's fixture time. Each test
# process keeps the apps it built, one per settings (the app holds nothing else of a
# bootstrap: the policies, the clock and the engine are installed and bound per test), and
# gives each test the one per-process part that lives in an event loop, the alarm feed,
# new (pytest-asyncio gives each test its own loop). A few, as settings that pin a clock
# differ from test to test.
_APPS: OrderedDict[Settings, Litestar] = OrderedDict()
_KEPT_APPS = 4


def shared_app(boot: Bootstrap) -> Litestar:
    """``boot``'s app without its database lifecycle (the engine fixture owns the pool),
    built once per settings in this process."""
    app = _APPS.pop(boot.settings, None)
    if app is None:
        app = boot.app(manage_db=False)
    else:
        app.state.alarm_feed = AlarmFeed(boot.settings.stream)
    _APPS[boot.settings] = app
    while len(_APPS) > _KEPT_APPS:
        _APPS.popitem(last=False)
    return app
