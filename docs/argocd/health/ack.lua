-- Argo CD health check for the ACK kinds kro-rs serves: s3.services.k8s.aws/Bucket and
-- rds.services.k8s.aws/DBSubnetGroup, DBParameterGroup, DBClusterParameterGroup (and, through
-- dbinstance.lua, DBInstance).
-- Degraded: ACK.Terminal=True (only a spec change helps), with its message.
-- Progressing: no conditions yet, ACK.Recoverable=True (retried), or ACK.ResourceSynced not True.
-- Healthy: ACK.ResourceSynced=True.
-- Uses only Lua's base library: Argo CD runs health scripts without the string library.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the controller to sync the resource with AWS"
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
  hs.message = message(terminal, "The resource is in a terminal condition")
  return hs
end
local recoverable = conditions["ACK.Recoverable"]
if recoverable ~= nil and recoverable.status == "True" then
  hs.message = message(recoverable, "Retrying after a recoverable error")
  return hs
end
-- ACK's status has no observedGeneration; if a future one does, honour it.
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
  and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the controller to reconcile generation " .. tostring(obj.metadata.generation)
  return hs
end
local synced = conditions["ACK.ResourceSynced"]
if synced ~= nil and synced.status == "True" then
  hs.status = "Healthy"
  hs.message = message(synced, "Resource synced successfully")
  return hs
end
hs.message = message(synced, hs.message)
return hs
