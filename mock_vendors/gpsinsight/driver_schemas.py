"""The parameters of the driver pipeline's methods: drivers (``driver/*``), the Driver Sync
setting (``driverisync/*``) and webhooks (``webhook/*``), as marshmallow schemas worded as
GPS Insight words errors (the conventions are :mod:`.schemas`'s)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .params import MAX_TEXT, Flag, Integer, NoParameters, Param
from .schemas import TIMEZONE, Changes, TimeZone, settable_text

DRIVER = (
    "Driver identifier (searches in order refid, id, last, first, first last, partial last, "
    "partial first names)"
)
ALERT_PREF = (
    "(0=none, 1=email, 2=sms, 3=email+sms (default), 4=garmin, 5=email+garmin, 6=sms+garmin, "
    "7=email+sms+garmin) (optional)"
)
DRIVERI_ID = "(optional) the driver's Driveri DriverID (the portal's \"Driveri DriverID\" field)"


class Name(Param):
    """A driver's name: trimmed, and never only blanks (an empty one reads as absent)."""

    default_error_messages = {"blank": "must not be blank"}

    def __init__(self, **kw: Any) -> None:
        super().__init__(max_length=MAX_TEXT, **kw)

    def read(self, text: str) -> str:
        if not text.strip():
            raise self.make_error("blank")
        return text.strip()


class DriverList(NoParameters):
    """``driver/list``: every driver, or one."""

    driver = Param(description=f"(optional) show a single driver: {DRIVER}")


class OneDriver(NoParameters):
    """The one driver the method acts on."""

    driver = Param(required=True, description=DRIVER)


class DriverCreate(NoParameters):
    """``driver/create``: a new driver; last and first name are required. A ``version``
    sent in is not a parameter (unknown parameters are ignored)."""

    lastname = Name(required=True, description="the driver's last name")
    firstname = Name(required=True, description="the driver's first name")
    ref_id = Param(
        max_length=MAX_TEXT, description="External reference ID for the driver (optional)"
    )
    email = Param(max_length=MAX_TEXT, description="(optional)")
    phone = Param(max_length=MAX_TEXT, description="(optional but recommended)")
    alert_pref = Integer(minimum=0, maximum=7, description=ALERT_PREF)
    timezone = TimeZone(max_length=MAX_TEXT, description=TIMEZONE)
    driveri_driver_id = Param(max_length=MAX_TEXT, description=DRIVERI_ID)


class DriverUpdate(OneDriver, Changes):
    """``driver/update``: the fields given of one driver (a blank ref_id, email, phone or
    Driveri DriverID sets it blank; blank names and time zone count as absent)."""

    CHANGES = (
        "lastname", "firstname", "ref_id", "email", "alert_pref", "phone", "timezone",
        "driveri_driver_id",
    )  # fmt: skip

    lastname = Name(description="(optional)")
    firstname = Name(description="(optional)")
    ref_id = settable_text("External reference ID (optional)")
    email = settable_text()
    alert_pref = Integer(minimum=0, maximum=7, description=ALERT_PREF)
    phone = settable_text()
    timezone = TimeZone(max_length=MAX_TEXT, description=TIMEZONE)
    driveri_driver_id = settable_text(DRIVERI_ID)


class DriverSyncUpdate(NoParameters):
    """``driverisync/update``: turn Driver Sync on (1) or off (0)."""

    enabled = Flag(required=True, description="1 turns Driver Sync on, 0 turns it off")


# -- webhooks ----------------------------------------------------------------------------------

MAX_URL = 2048
WEBHOOK_ID = "the webhook id"
CONTENT_TYPES = ("json", "form")


class Url(Param):
    """An absolute ``http`` or ``https`` URL with a host."""

    default_error_messages = {"url": "must be an absolute http or https URL"}

    def __init__(self, **kw: Any) -> None:
        super().__init__(max_length=MAX_URL, **kw)

    def read(self, text: str) -> str:
        url = text.strip()
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (a bad port raises here)
        except ValueError:
            raise self.make_error("url") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise self.make_error("url")
        return url


class Choice(Param):
    """One of a fixed set of words (letter case ignored)."""

    default_error_messages = {"choice": "must be one of: {choices}"}

    def __init__(self, choices: tuple[str, ...], **kw: Any) -> None:
        super().__init__(**kw)
        self.choices = choices

    def read(self, text: str) -> str:
        word = text.strip().lower()
        if word not in self.choices:
            raise self.make_error("choice", choices=", ".join(self.choices))
        return word


class WebhookCreate(NoParameters):
    """``webhook/create``: a subscription. Which ``type`` the account offers, and the rules
    across fields (a ``driver`` webhook needs a secret and json), are the backend's."""

    url = Url(required=True, description="URL of the endpoint to which we will write the data")
    email = Param(
        max_length=MAX_TEXT,
        description="an email address to notify of changes to the status of the script",
    )
    name = Param(max_length=MAX_TEXT, description="a name to reference this webhook")
    type = Param(
        required=True,
        max_length=MAX_TEXT,
        description="the webhook type (the platform's fourteen, plus driver [assumed])",
    )
    content_type = Choice(
        CONTENT_TYPES,
        load_default="json",
        description="the format of the data that is sent to you - must be either 'form' or "
        "'json' (default json)",
    )
    secret = Param(
        max_length=MAX_TEXT,
        description="the key of each delivery's HMAC-SHA256 signature [assumed]; required "
        "for type driver, never listed",
    )


class OneWebhook(NoParameters):
    """The one webhook the method acts on."""

    id = Integer(required=True, minimum=1, description=WEBHOOK_ID)
