// The public terminal API (/api/v1/terminal/...), the only thing the app talks to.
import { lang } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// The relay could not be reached: the terminal is offline or the relay is down.
export class Offline extends Error {}

export async function call(method, path, { token, body, etag } = {}) {
  const headers = { Accept: "application/json", "Accept-Language": lang };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1/terminal${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new Offline(String(err));
  }
  if (response.status === 304) return { status: 304, data: null, etag };
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText, error.details);
  }
  return { status: response.status, data, etag: response.headers.get("ETag") };
}
