"""moto, the AWS emulator, for kro-rs tests: S3, RDS and EC2 on one loopback port.

Applies the S3 response patch from shared/reference/ack.md 5.4: moto names the XML root of four S3
GET responses `<OperationResponse>`, which aws-sdk-rust rejects; rename them to what AWS sends.
Also fixes moto's ModifyDBSubnetGroup (ack.md 5.3), which drops the group it modifies, moto's
GetBucketReplication, which answers every rule with an empty filter and delete-marker
replication disabled whatever was put (it now answers what was put), moto's bucket inventory
calls (ListBucketInventoryConfigurations answers IncludedObjectVersions "All" whatever was put
and optional fields in a shape its own serializer rejects; DeleteBucketInventoryConfiguration is
missing, and moto answers it by deleting the bucket), and
installs rds_states: DB instance states (creating, modifying, resetting-master-credentials,
PendingModifiedValues) for the instances a test holds through /_kro_shim/rds/ (see that module),
and rds_parameters: the parameter-group calls moto lacks (engine defaults, reset).
Usage: python server.py PORT
"""
import signal
import sys
import threading

from moto.server import ThreadedMotoServer
from moto.rds.models import RDSBackend
from moto.core.responses import ActionResult
from moto.s3.exceptions import ReplicationConfigurationNotFoundError
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

import rds_parameters
import rds_states

ROOT_FIX = {
    b"GetBucketVersioningResponse": b"VersioningConfiguration",
    b"GetBucketAccelerateConfigurationResponse": b"AccelerateConfiguration",
    b"GetBucketNotificationResponse": b"NotificationConfiguration",
    b"ListBucketInventoryConfigurationsResponse": b"ListInventoryConfigurationsResult",
}
_serialized = S3Response.serialized


def serialized(self, result):
    status, headers, body = _serialized(self, result)
    raw = body.encode() if isinstance(body, str) else body
    for bad, good in ROOT_FIX.items():
        raw = raw.replace(b"<" + bad, b"<" + good).replace(b"</" + bad + b">", b"</" + good + b">")
    return status, headers, (raw.decode() if isinstance(body, str) else raw)


S3Response.serialized = serialized


def _replication_rule(rule):
    # What PutBucketReplication stored (xmltodict's form of the XML), in the shape moto's
    # serializer takes: a filter's and-operator lists its tags as "Tags".
    out = dict(rule)
    filt = dict(out.get("Filter") or {})
    if "And" in filt:
        conj = dict(filt["And"] or {})
        tags = conj.pop("Tag", None)
        if tags is not None:
            conj["Tags"] = tags if isinstance(tags, list) else [tags]
        filt["And"] = conj
    if filt:
        out["Filter"] = filt
    return out


def get_bucket_replication(self):
    self.data["Action"] = "GetBucketReplication"
    replication = self.backend.get_bucket_replication(self.bucket_name)
    if not replication:
        raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
    rules = [_replication_rule(rule) for rule in replication["Rule"]]
    return self.serialized(
        ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
    )


S3Response.get_bucket_replication = get_bucket_replication

_put_inventory = S3Backend.put_bucket_inventory_configuration


def put_bucket_inventory_configuration(self, bucket_name, inventory_configuration):
    _put_inventory(self, bucket_name, inventory_configuration)
    config = self.get_bucket(bucket_name).inventory_configs[inventory_configuration["Id"]]
    config.included_object_versions = inventory_configuration.get("IncludedObjectVersions", "All")


def _inventory(inv):
    config = {
        "Destination": inv.destination,
        "IsEnabled": str(inv.is_enabled).lower() == "true",
        "Id": inv.id,
        "IncludedObjectVersions": getattr(inv, "included_object_versions", "All"),
        "Schedule": inv.schedule,
    }
    if inv.filters:
        config["Filter"] = inv.filters
    fields = inv.optional_fields
    if isinstance(fields, dict):
        fields = fields.get("Field", [])
    if isinstance(fields, str):
        fields = [fields]
    if fields:
        config["OptionalFields"] = fields
    return config


def list_bucket_inventory_configurations(self):
    configs = [
        _inventory(inv)
        for inv in self.backend.list_bucket_inventory_configurations(bucket_name=self.bucket_name)
    ]
    self.data["Action"] = "ListBucketInventoryConfigurations"
    return self.serialized(
        ActionResult({"InventoryConfigurationList": configs, "IsTruncated": False})
    )


_bucket_delete = S3Response._bucket_response_delete


def _bucket_response_delete(self, bucket_name, querystring):
    if "inventory" in querystring:
        self._set_action("BUCKET", "DELETE", querystring)
        self._authenticate_and_authorize_s3_action(bucket_name=bucket_name)
        config_id = querystring.get("id", [""])[0]
        self.backend.get_bucket(bucket_name).inventory_configs.pop(config_id, None)
        return 204, {}, ""
    return _bucket_delete(self, bucket_name, querystring)


S3Backend.put_bucket_inventory_configuration = put_bucket_inventory_configuration
S3Response.list_bucket_inventory_configurations = list_bucket_inventory_configurations
S3Response._bucket_response_delete = _bucket_response_delete

_modify_db_subnet_group = RDSBackend.modify_db_subnet_group


def modify_db_subnet_group(self, subnet_name, description, subnets):
    # moto pops the group out of its table and never puts it back: put it back.
    group = _modify_db_subnet_group(self, subnet_name, description, subnets)
    self.subnet_groups[subnet_name] = group
    return group


RDSBackend.modify_db_subnet_group = modify_db_subnet_group
rds_states.install()
rds_parameters.install()


def main():
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"moto listening on http://127.0.0.1:{port}", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
