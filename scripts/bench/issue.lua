-- wrk: POST /api/v1/portal/credentials as a signed-in person ($WRK_COOKIE, $WRK_CSRF,
-- $WRK_BODY).
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("WRK_COOKIE")
wrk.headers["X-CSRF-Token"] = os.getenv("WRK_CSRF")
