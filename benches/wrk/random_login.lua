-- POST a login with a fresh random-looking address each time and a wrong
-- password: {"email": "f<RUN>-<thread>-<n>@example.com", ...}. Every
-- request costs the server one (dummy) argon2id verification, or a cheap
-- 503 when it sheds the load. Sent as from the one client address
-- FLOOD_FROM (X-Forwarded-For; the server trusts the loopback proxy).
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  run = os.getenv("RUN_ID")
  from = os.getenv("FLOOD_FROM")
  n = 0
end
function request()
  n = n + 1
  local body = string.format('{"email":"f%s-%d-%d@example.com","password":"not the password"}', run, tid, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Forwarded-For"] = from}, body)
end
