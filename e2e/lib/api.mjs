// Calling Gatehouse's API from a signed-in browser page, as the SPA does: the session
// cookie comes with the request and the CSRF token from `/api/v1/me` goes in its header.

/** Calls the API from the signed-in page (with its CSRF token); returns { status, body }. */
export async function api(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const me = await (await fetch('/api/v1/me')).json();
    const r = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }, [method, path, body]);
}
