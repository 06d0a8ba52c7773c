-- GET the URL's path, with `Authorization: Bearer $BEARER` when set.
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
local bearer = os.getenv("BEARER")
if bearer and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
end
