"""Every method of the GPS Insight API v2, as data: what the platform has, served or not.

Taken from the official PHP client's services (``gpsinsight/api-v2-client-php``,
``src/Services.php`` and ``src/Service/*.php``, both versions of each file where the
repository has two), whose method names are the live API's ``{service}/methods`` names: the
PHP function names, except that a service's own list is the API's ``list``. ``diagnostic`` is
not in the client; its methods are the documentation repository's
(``gpsidev/api_v2_documentation``, ``diagnostic/*.md``). ``driverisync`` is not in either: it
is the portal's Driveri Driver Sync setting, given an API service here [assumed].

What the emulator serves is ``routes.OPERATIONS``; a catalogued method it does not serve
answers 501 ``Method not emulated: <service>/<method>`` (``{service}/methods`` included, for a
service with nothing served), anything else 404 ``Method not found``.
"""

from __future__ import annotations

_CANNED_MESSAGES = (
    "addMessageToCannedMessageGroup", "addVehicleToCannedMessageGroup", "createCannedMessage",
    "createCannedMessageGroup", "deleteCannedMessage", "dispatch", "getCannedMessage",
    "getCannedMessageGroup", "getReceivedCustomForms", "history", "list",
    "listCannedMessageGroups", "listCannedMessages", "message", "queue",
    "removeCannedMessageGroup", "removeMessageFromCannedMessageGroup",
    "removeVehicleFromCannedMessageGroup", "syncCannedMessagesByVehicle", "translateMessageType",
    "updateCannedMessage",
)  # fmt: skip

CATALOGUE: dict[str, tuple[str, ...]] = {
    "alert": (
        "availableAlerts", "createIgnition", "createTowing", "delete", "history", "list", "read",
        "updateDriverAssign", "updateTowing",
    ),
    "apiapp": ("create", "list", "update"),
    "channel": ("currentVersion", "setCurrentVersion", "usage"),
    "customersite": ("addVehicleGroup", "create", "delete", "list"),
    "device": ("diagnosticVin", "list", "listAvailableSerials"),
    "diagnostic": ("history", "list", "summary"),
    "dispatch": _CANNED_MESSAGES,
    "driver": (
        "assign", "create", "delete", "getAttributes", "inputs", "joinGroup", "leaveGroup",
        "list", "listDriverGroups", "locations", "serviceReminder", "unassign", "update",
    ),
    "drivergroup": (
        "addMember", "addUser", "create", "delete", "getAttributes", "inputs", "list",
        "listMembers", "listUsers", "removeDriver", "removeUser", "serviceReminder",
    ),
    "driverisync": ("read", "update"),
    "fuelcard": (
        "assignFleetcorCard", "assignVoyagerCard", "listUnassigned", "listUnassignedVehicles",
    ),
    "garmin": _CANNED_MESSAGES,
    "geocode": ("address", "mapbook", "reverse", "timezone", "timezones"),
    "heartbeat": ("beat", "repeat"),
    "hierarchy": (
        "addNode", "addUser", "create", "delete", "inputs", "lifetimeUtilization", "list",
        "listGroups", "listGroupsVehicles", "listNodes", "removeDriver", "removeLandmark",
        "removeUser", "removeVehicle", "serviceReminder",
    ),
    "hierarchynode": (
        "addDriver", "addLandmark", "addNode", "addUser", "addUserAccess", "addVehicle",
        "beginEndDay", "delete", "driveTimeSummary", "fuelCardTransactions", "idleDetail",
        "idleSummary", "lifetimeUtilization", "list", "listNodes", "location", "postedSpeed",
        "postedSpeedRange", "removeDriver", "removeLandmark", "removeUser", "removeVehicle",
        "rename", "serviceHistory", "stateMileage", "update", "vehicleLocations",
    ),
    "landmark": (
        "addLandmarkGroup", "clearCache", "create", "delete", "getAttributes", "list", "read",
        "removeAttribute", "removeAttributeKey", "removeLandmarkGroup", "setAttribute",
        "setAttributeKey", "update",
    ),
    "landmarkgroup": (
        "addLandmark", "addUser", "clearCache", "create", "idleTime", "list",
        "listGroupsAndLandmarkIds", "listMembers", "remove", "removeLandmark", "removeUser",
        "setLandmarks",
    ),
    "route": ("delete", "directions", "list", "mapsLink", "optimize", "save", "validate"),
    "smsmessaging": ("conversations", "history", "numbers", "sendMessages"),
    "stopnote": ("create",),
    "user": (
        "addLandmarkGroup", "addVehicleGroup", "create", "delete", "getPreference", "list",
        "listUsers", "listVehicleGroups", "listVehicles", "read", "removeLandmarkGroup",
        "removeVehicleGroup", "setVehicleGroups", "timezone", "timezoneList",
        "timezoneListForCountry", "update",
    ),
    "userauth": (
        "login", "logout", "resetPassword", "sendPasswordReset", "validatePasswordReset",
    ),
    "vehicle": (
        "addMaintenanceAlert", "addSwitch", "addVehicleGroup", "attributes", "beginEndDay",
        "cameraId", "create", "definedSwitches", "delete", "distance", "driveTimeSummary", "dtc",
        "fuelCardTransactions", "getAttributeKeys", "getAttributes", "getAttributesByKey",
        "getDriver", "getDriverAttributes", "getInputs", "getInputsState", "hasGarmin",
        "history", "idleDetail", "idleSummary", "lastTripMap", "lifetimeUtilization", "list",
        "listVehicleGroups", "location", "locationHistorical", "postedSpeed", "postedSpeedRange",
        "read", "removeAttribute", "removeAttributeKey", "removeMaintenanceAlert",
        "removeVehicleGroup", "runtime", "scorecard", "serviceHistory", "serviceReminder",
        "setAttribute", "setAttributeKey", "setOdometerWaypoint", "setVehicleGroups",
        "soundsLike", "stateMileage", "transfer", "triggerInCabNotification", "tripDetail",
        "trips", "update", "updateMaintenanceAlert",
    ),
    "vehiclegroup": (
        "addUser", "addVehicle", "beginEndDay", "create", "delete", "driveTimeSummary", "dtc",
        "fuelCardTransactions", "getAttributes", "idleDetail", "idleSummary", "inputs",
        "landmarkIdle", "lifetimeUtilization", "list", "listMembers", "listMembersFromHierarchy",
        "listUsers", "listVehicles", "location", "maintenance", "postedSpeed",
        "postedSpeedRange", "read", "removeUser", "removeVehicle", "runtime", "scorecard",
        "serviceHistory", "serviceReminder", "setUsers", "setVehicles", "stateMileage",
        "update",
    ),
    "vehiclereport": (
        "atLandmarkSummary", "closestToAddress", "closestToLandmark", "closestToLatLng",
        "closestToVin",
    ),
    "vin": ("basicInfo", "decode"),
    "webhook": ("create", "delete", "list", "pause", "resume"),
}  # fmt: skip
"""Service -> its methods' API names (the URL takes them in any letter case)."""

METHODS = "methods"
"""Every service's own ``{service}/methods``, what the client's generator reads
(``dev/src/ServiceBuilder.php``)."""

API_NAMES: dict[str, str] = {
    f"{service}/{name.lower()}": name for service, names in CATALOGUE.items() for name in names
}
"""``service/method`` in lower case (as the dispatcher sees a call) -> the method's API name."""


def is_catalogued(method: str) -> bool:
    """Whether ``service/method`` (lower case) is a method of the platform's API."""
    service, _, name = method.partition("/")
    return method in API_NAMES or (name == METHODS and service in CATALOGUE)
