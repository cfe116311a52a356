"""RDS parameter-group calls moto 5.2 lacks, for kro-rs tests.

moto stores DB (cluster) parameter groups and the parameters ModifyDB(Cluster)ParameterGroup
sets, but it does not implement:

* DescribeEngineDefaultParameters / DescribeEngineDefaultClusterParameters, which tell a
  controller whether a parameter exists in a family, whether it can be modified and whether
  it applies at once (`dynamic`) or at the next reboot (`static`);
* ResetDBParameterGroup / ResetDBClusterParameterGroup, the only way RDS has to take a
  parameter out of a group (back to its engine default).

Its DescribeDB(Cluster)Parameters also lists only what was modified, without the metadata RDS
returns with each parameter (IsModifiable, ApplyType, DataType, Source).

This module adds the four calls and the metadata, from the small table of families below (a
few parameters each, with the kind of value RDS reports; not RDS's full lists). A family not
in the table has no parameters: a controller then reports its parameters as unknown, as RDS
would for a misspelt one.
"""
from moto.rds.exceptions import (
    DBClusterParameterGroupNotFoundError,
    DBParameterGroupNotFoundError,
    RDSClientError,
)
from moto.core.responses import ActionResult
from moto.rds.responses import RDSResponse

# name -> (default value or None, apply type, modifiable, data type)
_POSTGRES = {
    "work_mem": (None, "dynamic", True, "integer"),
    "log_min_duration_statement": (None, "dynamic", True, "integer"),
    "log_connections": (None, "dynamic", True, "boolean"),
    "rds.force_ssl": ("1", "dynamic", True, "boolean"),
    "max_connections": ("LEAST({DBInstanceClassMemory/9531392},5000)", "static", True, "integer"),
    "shared_buffers": ("{DBInstanceClassMemory/32768}", "static", True, "integer"),
    "shared_preload_libraries": ("pg_stat_statements", "static", True, "list"),
    "data_directory": (None, "static", False, "string"),
}
_MYSQL = {
    "max_connections": ("{DBInstanceClassMemory/12582880}", "dynamic", True, "integer"),
    "slow_query_log": (None, "dynamic", True, "boolean"),
    "long_query_time": (None, "dynamic", True, "float"),
    "general_log": (None, "dynamic", True, "boolean"),
    "innodb_buffer_pool_size": ("{DBInstanceClassMemory*3/4}", "static", True, "integer"),
    "basedir": ("/rdsdbbin/mysql", "static", False, "string"),
}
_AURORA_POSTGRES_CLUSTER = {
    "rds.force_ssl": ("1", "dynamic", True, "boolean"),
    "log_min_duration_statement": (None, "dynamic", True, "integer"),
    "timezone": (None, "dynamic", True, "string"),
    "rds.logical_replication": ("0", "static", True, "boolean"),
    "shared_preload_libraries": ("pg_stat_statements", "static", True, "list"),
    "data_directory": (None, "static", False, "string"),
}
_AURORA_MYSQL_CLUSTER = {
    "character_set_server": (None, "dynamic", True, "string"),
    "time_zone": (None, "dynamic", True, "string"),
    "server_audit_logging": ("0", "dynamic", True, "boolean"),
    "binlog_format": ("OFF", "static", True, "string"),
    "basedir": ("/rdsdbbin/oscar", "static", False, "string"),
}
FAMILIES = {
    **{f"postgres{v}": _POSTGRES for v in (13, 14, 15, 16, 17)},
    "mysql8.0": _MYSQL,
    "mysql8.4": _MYSQL,
    # Aurora instance families hold the instance-level parameters.
    **{f"aurora-postgresql{v}": _POSTGRES for v in (14, 15, 16)},
    "aurora-mysql8.0": _MYSQL,
}
CLUSTER_FAMILIES = {
    **{f"aurora-postgresql{v}": _AURORA_POSTGRES_CLUSTER for v in (14, 15, 16)},
    "aurora-mysql8.0": _AURORA_MYSQL_CLUSTER,
}


def _described(name, meta, value=None, source="engine-default"):
    default, apply_type, modifiable, data_type = meta
    item = {
        "ParameterName": name,
        "Description": f"{name} (kro-rs test table)",
        "Source": source,
        "ApplyType": apply_type,
        "DataType": data_type,
        "IsModifiable": modifiable,
        "ApplyMethod": "pending-reboot" if apply_type == "static" else "immediate",
    }
    shown = value if value is not None else default
    if shown is not None:
        item["ParameterValue"] = shown
    return item


def _defaults(table, family):
    params = table.get(family, {})
    return {
        "DBParameterGroupFamily": family,
        "Parameters": [_described(name, meta) for name, meta in sorted(params.items())],
    }


def _with_metadata(table, family, stored):
    """The parameters moto stored for a group, with what RDS reports beside each."""
    params = table.get(family, {})
    out = []
    for name, values in sorted(stored.items()):
        meta = params.get(name, (None, values.get("ApplyType", "dynamic"), True, "string"))
        item = _described(name, meta, values.get("ParameterValue"), "user")
        item["ApplyMethod"] = values.get("ApplyMethod", item["ApplyMethod"])
        out.append(item)
    return out


def _names(params):
    names = []
    for param in params or []:
        raw = param.original_dict() if hasattr(param, "original_dict") else param
        names.append(raw["ParameterName"])
    return names


def _reset(group, params, reset_all):
    if str(reset_all).lower() == "true":
        group.parameters.clear()
        return
    names = _names(params)
    if not names:
        raise RDSClientError(
            "InvalidParameterCombination",
            "Specify Parameters or ResetAllParameters=true.",
        )
    for name in names:
        group.parameters.pop(name, None)


def describe_engine_default_parameters(self):
    family = self.params.get("DBParameterGroupFamily")
    return ActionResult({"EngineDefaults": _defaults(FAMILIES, family)})


def describe_engine_default_cluster_parameters(self):
    family = self.params.get("DBParameterGroupFamily")
    return ActionResult({"EngineDefaults": _defaults(CLUSTER_FAMILIES, family)})


def _group(self):
    name = self.params.get("DBParameterGroupName")
    group = self.backend.db_parameter_groups.get(name)
    if group is None:
        raise DBParameterGroupNotFoundError(name)
    return group


def _cluster_group(self):
    name = self.params.get("DBClusterParameterGroupName")
    group = self.backend.db_cluster_parameter_groups.get(name)
    if group is None:
        raise DBClusterParameterGroupNotFoundError(name)
    return group


def reset_db_parameter_group(self):
    group = _group(self)
    _reset(group, self.params.get("Parameters"), self.params.get("ResetAllParameters"))
    return ActionResult({"DBParameterGroupName": group.name})


def reset_db_cluster_parameter_group(self):
    group = _cluster_group(self)
    _reset(group, self.params.get("Parameters"), self.params.get("ResetAllParameters"))
    return ActionResult({"DBClusterParameterGroupName": group.name})


def describe_db_parameters(self):
    group = _group(self)
    return ActionResult(
        {"Parameters": _with_metadata(FAMILIES, group.family, group.parameters)}
    )


def describe_db_cluster_parameters(self):
    group = _cluster_group(self)
    return ActionResult(
        {
            "Parameters": _with_metadata(
                CLUSTER_FAMILIES, group.db_parameter_group_family, group.parameters
            )
        }
    )


def install():
    """Adds the calls to moto's RDS responses (call before the server starts)."""
    RDSResponse.describe_engine_default_parameters = describe_engine_default_parameters
    RDSResponse.describe_engine_default_cluster_parameters = (
        describe_engine_default_cluster_parameters
    )
    RDSResponse.reset_db_parameter_group = reset_db_parameter_group
    RDSResponse.reset_db_cluster_parameter_group = reset_db_cluster_parameter_group
    RDSResponse.describe_db_parameters = describe_db_parameters
    RDSResponse.describe_db_cluster_parameters = describe_db_cluster_parameters
