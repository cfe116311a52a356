-- Argo CD health check for kro instances (any kind generated from a ResourceGraphDefinition).
-- Healthy: state ACTIVE and Ready=True. Degraded: state ERROR/FAILED, or Ready=False with an
-- error reason. Progressing: no status yet, IN_PROGRESS, DELETING, or the controller has not yet
-- seen the latest spec (observedGeneration behind metadata.generation).
-- Uses only Lua's base library: Argo CD runs health scripts without the string library.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for kro to report the instance's status"
if obj.status == nil then
  return hs
end

local conditions = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type ~= nil then
      conditions[c.type] = c
    end
  end
end
local ready = conditions["Ready"]

-- The message of condition c, or nil when it has none.
local function text(c)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return nil
end

-- A message saying why: Ready's, else the first condition that is not True.
local function why()
  if text(ready) ~= nil then
    return text(ready)
  end
  if obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.status ~= "True" and c.message ~= nil and c.message ~= "" then
        return c.message
      end
    end
  end
  return nil
end

-- The spec changed and kro has not reconciled it yet: what the status says is about the old spec.
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for kro to reconcile generation " .. tostring(generation)
    .. " (status is for generation " .. tostring(observed) .. ")"
  return hs
end

local state = obj.status.state
local errorReasons = {
  Failed = true,
  ResolutionFailed = true,
  ManagementFailed = true,
  InvalidGraph = true,
  InvalidResourceGraph = true,
  ReconcileError = true,
}

if state == "ERROR" or state == "FAILED" then
  hs.status = "Degraded"
  hs.message = why() or ("Instance state is " .. state)
  return hs
end
if state == "DELETING" then
  hs.message = why() or "Instance is being deleted"
  return hs
end
if ready ~= nil and ready.status == "False" and ready.reason ~= nil and errorReasons[ready.reason] then
  hs.status = "Degraded"
  hs.message = why() or ready.reason
  return hs
end
if state == "ACTIVE" and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready) or text(conditions["ResourcesReady"]) or "Instance is ACTIVE and Ready"
  return hs
end
if state == "ACTIVE" and ready == nil then
  -- kro versions without conditions: the state alone says it.
  hs.status = "Healthy"
  hs.message = "Instance is ACTIVE"
  return hs
end
local message = why()
if message ~= nil then
  hs.message = message
elseif state ~= nil then
  hs.message = "Instance state is " .. state
end
return hs
