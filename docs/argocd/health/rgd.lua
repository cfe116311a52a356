-- Argo CD health check for kro's ResourceGraphDefinition (kro.run/ResourceGraphDefinition).
-- Healthy: state Active and Ready=True (its CRD is served and its controller runs).
-- Degraded: Ready=False or state Inactive, with the message of the condition that failed.
-- Progressing: no status yet, or the status is about an older generation.
-- Uses only Lua's base library: Argo CD runs health scripts without the string library.
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for kro to accept the ResourceGraphDefinition"
if obj.status == nil then
  return hs
end

local ready = nil
local kindReady = nil
local failed = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    elseif failed == nil and c.status == "False" then
      failed = c
    end
    if c.type == "KindReady" then
      kindReady = c
    end
  end
end

-- The message of condition c, or nil when it has none.
local function text(c)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return nil
end

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

if ready ~= nil and ready.status == "True" and obj.status.state ~= "Inactive" then
  hs.status = "Healthy"
  hs.message = text(ready) or text(kindReady) or "ResourceGraphDefinition is Active"
  return hs
end
if (ready ~= nil and ready.status == "False") or obj.status.state == "Inactive" then
  hs.status = "Degraded"
  hs.message = text(failed) or text(ready) or "ResourceGraphDefinition is Inactive"
  return hs
end
hs.message = text(ready) or hs.message
return hs
