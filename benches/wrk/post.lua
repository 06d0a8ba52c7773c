-- POST the JSON in $BODY to the URL's path (login: the same account each
-- time, as a client retrying its password would).
package.path = os.getenv("WRK_SCRIPTS") .. "/?.lua;" .. package.path
require "report"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")
