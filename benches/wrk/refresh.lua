-- Refresh-token rotation, following each session's chain: the tokens in
-- $TOKENS_FILE (one per line, at least one per connection) are split
-- across threads; each request spends one and its response hands back the
-- rotated token, which joins the thread's pool. $REQUEST_FIELD names the
-- token in the request body, $RESPONSE_FIELD in the response.
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local count = tonumber(os.getenv("WRK_THREADS"))
  request_field = os.getenv("REQUEST_FIELD")
  pattern = '"' .. os.getenv("RESPONSE_FIELD") .. '"%s*:%s*"([^"]+)"'
  pool = {}
  local i = 0
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if i % count == tid then pool[#pool + 1] = line end
    i = i + 1
  end
end
function request()
  local token = table.remove(pool, 1) or "exhausted"
  local body = '{"' .. request_field .. '":"' .. token .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  local token = body and string.match(body, pattern)
  if token then pool[#pool + 1] = token end
end
