"""RDS instance states for kro-rs tests, under the test's control.

moto reports every DB instance `available` at once and applies ModifyDBInstance immediately, so a
controller's state gate and not-synced requeues never run against it. This shim makes a DB
instance go through RDS's states, for the instance identifiers a test *holds* only (every other
instance behaves as plain moto, so tests running in parallel do not see each other's states):

* `POST /_kro_shim/rds/<id>/hold`  hold <id>: from now on (call it before the create)
  - CreateDBInstance of <id> answers, and every describe reports, `creating`, without an endpoint;
  - ModifyDBInstance is refused with `InvalidDBInstanceState` unless the instance is `available`
    (RDS refuses it in most states; a controller should never send one then);
  - a ModifyDBInstance carrying MasterUserPassword leaves the instance
    `resetting-master-credentials`; any other with ApplyImmediately=true leaves it `modifying`;
    with ApplyImmediately false or absent the status stays `available` (the change waits for
    the maintenance window);
  - either way the fields RDS reports in PendingModifiedValues (class, storage, storage type,
    IOPS, engine version, Multi-AZ, port, backup retention, CA certificate, master password as
    `****`) stay there, the instance keeping its old values, until the test releases it; every
    other field applies at once, as in moto.
* `POST /_kro_shim/rds/<id>/state/<status>`  report <status> from now on (`backing-up`,
  `storage-full`, `failed`, ...). `available` releases the instance: the pending values are
  applied and PendingModifiedValues is empty again.
* `POST /_kro_shim/rds/<id>/available`  the same as `state/available`.
* `GET /_kro_shim/rds/<id>`  JSON: `status`, `pending`, `calls` (CreateDBInstance,
  DescribeDBInstances, ModifyDBInstance received for <id>, refused ones included) and
  `modifications` (the parameters of each ModifyDBInstance as sent, MasterUserPassword masked).

Nothing waits on a clock: a state lasts until the test moves it on. Passwords are never kept in
the shim's answers (only `****`).
"""
import json
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance
from moto.rds.responses import RDSResponse

PREFIX = "/_kro_shim/rds/"
MASK = "****"
# ModifyDBInstance parameter (as moto's parsed keys) -> PendingModifiedValues member, and the
# model attribute the value lands in when released.
PENDING = {
    "db_instance_class": ("DBInstanceClass", "db_instance_class"),
    "allocated_storage": ("AllocatedStorage", "allocated_storage"),
    "storage_type": ("StorageType", "storage_type"),
    "iops": ("Iops", "iops"),
    "engine_version": ("EngineVersion", "engine_version"),
    "multi_az": ("MultiAZ", "multi_az"),
    "db_port_number": ("Port", "port"),
    "backup_retention_period": ("BackupRetentionPeriod", "backup_retention_period"),
    "ca_certificate_identifier": ("CACertificateIdentifier", "ca_certificate_identifier"),
    "master_user_password": ("MasterUserPassword", "master_user_password"),
}

_lock = threading.RLock()
# id -> Held
_held = {}


class Held:
    """What the shim knows of one held instance."""

    def __init__(self):
        self.status = "creating"
        # PendingModifiedValues member -> (model attribute, value)
        self.pending = {}
        self.calls = {"CreateDBInstance": 0, "DescribeDBInstances": 0, "ModifyDBInstance": 0}
        self.modifications = []
        self.model = None

    def report(self):
        pending = {
            member: (MASK if member == "MasterUserPassword" else value)
            for member, (_, value) in self.pending.items()
        }
        return {
            "status": self.status,
            "pending": pending,
            "calls": dict(self.calls),
            "modifications": list(self.modifications),
        }

    def show(self):
        """Puts the reported state on moto's model, which moto serializes."""
        if self.model is None:
            return
        self.model.status = self.status
        self.model.pending_modified_values = {
            member: (MASK if member == "MasterUserPassword" else value)
            for member, (_, value) in self.pending.items()
        }

    def release(self):
        if self.model is not None:
            for attribute, value in self.pending.values():
                setattr(self.model, attribute, value)
        self.pending = {}


def _held_for(identifier):
    return _held.get(identifier) if identifier else None


# --- RDS calls -------------------------------------------------------------------------------

_create = RDSResponse.create_db_instance
_describe = RDSResponse.describe_db_instances
_modify = RDSResponse.modify_db_instance
_endpoint = DBInstance.endpoint


def create_db_instance(self):
    with _lock:
        held = _held_for(self.params.get("DBInstanceIdentifier"))
        if held is None:
            return _create(self)
        held.calls["CreateDBInstance"] += 1
        result = _create(self)
        held.model = self.backend.databases.get(self.params.get("DBInstanceIdentifier"))
        held.status = "creating"
        held.show()
        return result


def describe_db_instances(self):
    with _lock:
        held = _held_for(self.params.get("DBInstanceIdentifier"))
        if held is not None:
            held.calls["DescribeDBInstances"] += 1
        return _describe(self)


def _sent(querystring):
    """The parameters of a query-protocol call as sent, the password masked."""
    sent = {}
    for key, values in querystring.items():
        if key in ("Action", "Version"):
            continue
        value = values[0] if isinstance(values, list) and len(values) == 1 else values
        sent[key] = MASK if key == "MasterUserPassword" else value
    return sent


def modify_db_instance(self):
    with _lock:
        identifier = self.params.get("DBInstanceIdentifier")
        held = _held_for(identifier)
        if held is None:
            return _modify(self)
        held.calls["ModifyDBInstance"] += 1
        held.modifications.append(_sent(self.querystring))
        if held.model is None:
            held.model = self.backend.databases.get(identifier)
        if held.status != "available":
            raise RDSClientError(
                "InvalidDBInstanceState",
                f"Database instance {identifier} is in '{held.status}' status: "
                "it can be modified only when available.",
            )
        immediately = str(self.params.get("ApplyImmediately", "")).lower() == "true"
        password = "master_user_password" in self.params
        for key, (member, attribute) in PENDING.items():
            if key in self.params:
                value = self.params.pop(key)
                if value is not None:
                    held.pending[member] = (attribute, value)
        result = _modify(self)
        # RDS resets the master password as soon as it can, whatever ApplyImmediately says.
        if password:
            held.status = "resetting-master-credentials"
        elif immediately:
            held.status = "modifying"
        held.show()
        return result


def endpoint(self):
    with _lock:
        for held in _held.values():
            if held.model is self and held.status == "creating":
                return None
    return _endpoint.fget(self)


# --- control endpoint ------------------------------------------------------------------------


def _answer(start_response, code, body):
    data = json.dumps(body).encode()
    start_response(code, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def control(environ, start_response):
    """Handles `/_kro_shim/rds/<id>[/hold|/available|/state/<status>]`."""
    parts = environ.get("PATH_INFO", "")[len(PREFIX):].strip("/").split("/")
    method = environ.get("REQUEST_METHOD", "GET")
    identifier, action = parts[0], parts[1:]
    if not identifier:
        return _answer(start_response, "404 Not Found", {"error": "no DB instance identifier"})
    with _lock:
        held = _held.get(identifier)
        if method == "POST" and action == ["hold"]:
            if held is None:
                held = _held[identifier] = Held()
            return _answer(start_response, "200 OK", held.report())
        if held is None:
            return _answer(
                start_response,
                "404 Not Found",
                {"error": f"{identifier} is not held: POST {PREFIX}{identifier}/hold first"},
            )
        if method == "GET" and not action:
            return _answer(start_response, "200 OK", held.report())
        if method == "POST" and (action == ["available"] or action[:1] == ["state"]):
            status = "available" if action == ["available"] else "/".join(action[1:])
            if not status:
                return _answer(start_response, "400 Bad Request", {"error": "no status named"})
            if status == "available":
                held.release()
            held.status = status
            held.show()
            return _answer(start_response, "200 OK", held.report())
    return _answer(
        start_response,
        "404 Not Found",
        {"error": f"unknown shim call {method} {environ.get('PATH_INFO')}"},
    )


_dispatch = DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    if environ.get("PATH_INFO", "").startswith(PREFIX):
        return control(environ, start_response)
    return _dispatch(self, environ, start_response)


def install():
    """Patches moto's RDS responses and the server's dispatcher (call before the server starts)."""
    RDSResponse.create_db_instance = create_db_instance
    RDSResponse.describe_db_instances = describe_db_instances
    RDSResponse.modify_db_instance = modify_db_instance
    DBInstance.endpoint = property(endpoint)
    DomainDispatcherApplication.__call__ = dispatch
