-- POST the JSON in $BODY to the URL's path (login: the same account each
-- time, as a client retrying its password would).
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")

-- Each request as from one of 200 client addresses (the server trusts the
-- loopback as a proxy): the per-client share of the hash line is there
-- against a flood from one address, and would otherwise turn this
-- measurement of the hashing bound into one of shedding.
local sent = 0
request = function()
  sent = sent + 1
  wrk.headers["X-Forwarded-For"] = "198.51.100." .. (sent % 200 + 1)
  return wrk.format()
end
