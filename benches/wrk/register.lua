-- POST a registration with a fresh address each time:
-- {"email": "r<RUN>-<thread>-<n>@example.com", "password": $PASSWORD}.
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  run = os.getenv("RUN_ID")
  password = os.getenv("PASSWORD")
  n = 0
end
function request()
  n = n + 1
  local body = string.format('{"email":"r%s-%d-%d@example.com","password":"%s"}', run, tid, n, password)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
