-- Argo CD health check for rds.services.k8s.aws/DBInstance: ack.lua's rules, plus the RDS
-- instance status: Healthy only once synced and "available"; Degraded when RDS reports a state
-- only a person can fix (failed, storage-full, incompatible-*, ...); Progressing otherwise
-- (creating, modifying, backing-up, ...), with the status in the message.
-- Uses only Lua's base library: Argo CD runs health scripts without the string library.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the controller to sync the DB instance with AWS"
if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local conditions = {}
for _, c in ipairs(obj.status.conditions) do
  if c.type ~= nil then
    conditions[c.type] = c
  end
end
local function message(c, default)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return default
end

local terminal = conditions["ACK.Terminal"]
if terminal ~= nil and terminal.status == "True" then
  hs.status = "Degraded"
  hs.message = message(terminal, "The DB instance is in a terminal condition")
  return hs
end

local rdsStatus = obj.status.dbInstanceStatus
local broken = {
  ["failed"] = true,
  ["storage-full"] = true,
  ["incompatible-network"] = true,
  ["incompatible-option-group"] = true,
  ["incompatible-parameters"] = true,
  ["incompatible-restore"] = true,
  ["incompatible-credentials"] = true,
  ["inaccessible-encryption-credentials"] = true,
  ["inaccessible-encryption-credentials-recoverable"] = true,
  ["restore-error"] = true,
}
if rdsStatus ~= nil and broken[rdsStatus] then
  hs.status = "Degraded"
  hs.message = "DB instance status is " .. rdsStatus
  return hs
end

local recoverable = conditions["ACK.Recoverable"]
if recoverable ~= nil and recoverable.status == "True" then
  hs.message = message(recoverable, "Retrying after a recoverable error")
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
  and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the controller to reconcile generation " .. tostring(obj.metadata.generation)
  return hs
end
local synced = conditions["ACK.ResourceSynced"]
if synced ~= nil and synced.status == "True" and (rdsStatus == nil or rdsStatus == "available") then
  hs.status = "Healthy"
  hs.message = message(synced, "Resource synced successfully")
  return hs
end
if rdsStatus ~= nil and rdsStatus ~= "available" then
  hs.message = "DB instance status is " .. rdsStatus .. ": " .. message(synced, "waiting for it to be available")
  return hs
end
hs.message = message(synced, hs.message)
return hs
