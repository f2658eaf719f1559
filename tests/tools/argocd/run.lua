-- Runs an Argo CD health script (arg[1]) on each JSON object read from stdin, one per line, the way
-- Argo CD does: the object as the global `obj`, the script's returned table as the result. Prints one
-- JSON line {"status": ..., "message": ...} per object.
local json = require("dkjson")
local script = arg[1]
for line in io.lines() do
  if line ~= "" then
    local decoded, _, err = json.decode(line)
    if err then
      io.stderr:write("run.lua: bad JSON: " .. err .. "\n")
      os.exit(2)
    end
    obj = decoded
    hs = nil
    local chunk = assert(loadfile(script))
    local result = chunk()
    io.write(json.encode({ status = result.status, message = result.message }), "\n")
    io.flush()
  end
end
