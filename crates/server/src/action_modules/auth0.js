// `require('auth0')` inside actions: a ManagementClient for this broker's Management API,
// modelled on the npm package `auth0` (node-auth0). It uses the package's method names, token
// request and Management API endpoints, but not its `Auth0-Client` telemetry header.
//
// Runs as a CommonJS module body. `host` contains the Rust functions of action_modules.rs:
// - resolveDomain(domain, audience) -> {baseUrl, audience}. It throws unless `domain` is the
//   tenant's own domain.
// - request({method, url, headers, body}) -> Promise<{status, statusText, headers, body}>. It
//   rejects any URL outside the tenant's origin.
//
// Call styles:
// - versions 2 and 3: getUser({id}), getUsers(params), getUsersByEmail(email),
//   updateUser({id}, body), updateAppMetadata({id}, metadata), updateUserMetadata({id}, metadata).
//   They resolve to the response body and also take a Node-style callback as last argument.
// - version 4: users.get({id}), users.getAll(params), users.update({id}, body),
//   usersByEmail.getByEmail({email}). They resolve to {data, status, statusText, headers}.
// - version 5: users.get(id) and users.update(id, body) with a positional id resolve to the
//   response body.
//   NOTE: this return shape (the body, not {data}) is not verified against version 5 itself.
// Failures reject with a ManagementApiError carrying statusCode, message, error, errorCode,
// body (the response text) and headers.

'use strict';

// A cached token is replaced this long before it expires, so that it cannot expire between
// the check and the broker's verification.
const TOKEN_EXPIRY_MARGIN_MS = 10 * 1000;

const REDACTED = '[redacted]';

class ManagementApiError extends Error {
  constructor(fields) {
    super(fields.message);
    this.name = 'ManagementApiError';
    this.statusCode = fields.statusCode;
    this.error = fields.error;
    this.errorCode = fields.errorCode;
    this.body = fields.body;
    this.headers = fields.headers || {};
    this.msg = fields.message;
  }
}

function parseBody(text) {
  if (typeof text !== 'string' || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    return text;
  }
}

// Replaces every occurrence of `hidden` (the client secret) in `text`.
function hide(text, hidden) {
  if (typeof text !== 'string' || !hidden) return text;
  return text.split(hidden).join(REDACTED);
}

// Builds the rejection for a response with an error status. The message comes from the
// Management API's `message`, or OAuth's `error_description` for token requests.
function responseError(response, hidden) {
  const parsed = parseBody(response.body);
  const fields = parsed !== null && typeof parsed === 'object' ? parsed : {};
  const message =
    fields.message || fields.error_description || fields.error ||
    `Request failed with status code ${response.status}`;
  return new ManagementApiError({
    statusCode: response.status,
    message: hide(String(message), hidden),
    error: fields.error,
    errorCode: fields.errorCode,
    body: hide(response.body, hidden),
    headers: response.headers,
  });
}

function queryString(params) {
  const pairs = [];
  for (const key of Object.keys(params || {})) {
    const value = params[key];
    if (value === undefined || value === null) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(text)}`);
  }
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

function userPath(id) {
  if (typeof id !== 'string' || id === '') {
    throw new TypeError('A user id is required: pass {id} as the first argument');
  }
  return `users/${encodeURIComponent(id)}`;
}

// Splits `{id, ...rest}` or a positional id into the id and the remaining query parameters.
function splitId(params) {
  if (typeof params === 'string') return { id: params, query: {} };
  const { id, ...query } = params || {};
  return { id, query };
}

// Settles `promise` through a Node-style callback when one is given, as versions 2 and 3 do.
function withCallback(promise, callback) {
  if (typeof callback !== 'function') return promise;
  promise.then(
    (result) => callback(null, result),
    (error) => callback(error),
  );
  return undefined;
}

// The connection one ManagementClient uses: its credentials, its token cache and the HTTP
// calls. Kept out of the client object so that printing the client shows no secret.
class Connection {
  constructor(options) {
    this.domain = options.domain;
    this.audience = options.audience;
    this.clientId = options.clientId;
    this.clientSecret = options.clientSecret;
    this.scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
    this.staticToken = options.token;
    this.cached = null;
    this.pending = null;
  }

  resolve() {
    return host.resolveDomain(this.domain, this.audience);
  }

  async accessToken(target) {
    if (this.staticToken !== undefined) {
      const token =
        typeof this.staticToken === 'function' ? await this.staticToken() : this.staticToken;
      return String(token);
    }
    if (this.cached !== null && Date.now() < this.cached.renewAt) {
      return this.cached.token;
    }
    // Calls made while a token request is pending share its result.
    if (this.pending === null) {
      this.pending = this.requestToken(target).finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  async requestToken(target) {
    const body = {
      grant_type: 'client_credentials',
      client_id: this.clientId,
      client_secret: this.clientSecret,
      audience: target.audience,
    };
    if (this.scope) body.scope = this.scope;
    const response = await host.request({
      method: 'POST',
      url: `${target.baseUrl}oauth/token`,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status < 200 || response.status >= 300) {
      throw responseError(response, this.clientSecret);
    }

    const parsed = parseBody(response.body);
    if (parsed === null || typeof parsed !== 'object' || typeof parsed.access_token !== 'string') {
      throw new ManagementApiError({
        statusCode: response.status,
        message: 'The token response contains no access_token',
        body: hide(response.body, this.clientSecret),
        headers: response.headers,
      });
    }
    const expiresIn = Number(parsed.expires_in);
    if (Number.isFinite(expiresIn) && expiresIn > 0) {
      this.cached = {
        token: parsed.access_token,
        renewAt: Date.now() + expiresIn * 1000 - TOKEN_EXPIRY_MARGIN_MS,
      };
    }
    return parsed.access_token;
  }

  // Sends one Management API request to `path`, relative to /api/v2/, and resolves to
  // {data, status, statusText, headers}.
  async send(method, path, query, body) {
    const target = this.resolve();
    const token = await this.accessToken(target);
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    const request = {
      method,
      url: `${target.baseUrl}api/v2/${path}${queryString(query)}`,
      headers,
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      request.body = JSON.stringify(body);
    }

    const response = await host.request(request);
    if (response.status < 200 || response.status >= 300) {
      throw responseError(response, this.clientSecret);
    }
    return {
      data: parseBody(response.body),
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    };
  }
}

const connections = new WeakMap();

function connectionOf(owner) {
  return connections.get(owner);
}

// `management.users` of versions 4 and 5.
class UsersManager {
  constructor(connection) {
    connections.set(this, connection);
  }

  async get(params) {
    const { id, query } = splitId(params);
    const response = await connectionOf(this).send('GET', userPath(id), query);
    return typeof params === 'string' ? response.data : response;
  }

  async getAll(params) {
    return connectionOf(this).send('GET', 'users', params);
  }

  async update(params, body) {
    const { id } = splitId(params);
    const response = await connectionOf(this).send('PATCH', userPath(id), {}, body || {});
    return typeof params === 'string' ? response.data : response;
  }
}

// `management.usersByEmail` of version 4.
class UsersByEmailManager {
  constructor(connection) {
    connections.set(this, connection);
  }

  async getByEmail(params) {
    return connectionOf(this).send('GET', 'users-by-email', params);
  }
}

class ManagementClient {
  constructor(options) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('ManagementClient options must be an object');
    }
    if (typeof options.domain !== 'string' || options.domain === '') {
      throw new TypeError('ManagementClient needs a domain');
    }
    if (options.token === undefined) {
      if (!options.clientId) {
        throw new TypeError('ManagementClient needs a clientId, or a token');
      }
      if (!options.clientSecret) {
        throw new TypeError('ManagementClient needs a clientSecret, or a token');
      }
    }
    const connection = new Connection(options);
    connections.set(this, connection);
    this.users = new UsersManager(connection);
    this.usersByEmail = new UsersByEmailManager(connection);
  }

  getUser(params, callback) {
    const { id, query } = splitId(params);
    const result = (async () => {
      const response = await connectionOf(this).send('GET', userPath(id), query);
      return response.data;
    })();
    return withCallback(result, callback);
  }

  getUsers(params, callback) {
    if (typeof params === 'function') return this.getUsers({}, params);
    const result = connectionOf(this)
      .send('GET', 'users', params)
      .then((response) => response.data);
    return withCallback(result, callback);
  }

  getUsersByEmail(email, callback) {
    const result = connectionOf(this)
      .send('GET', 'users-by-email', { email })
      .then((response) => response.data);
    return withCallback(result, callback);
  }

  updateUser(params, body, callback) {
    const { id } = splitId(params);
    const result = (async () => {
      const response = await connectionOf(this).send('PATCH', userPath(id), {}, body || {});
      return response.data;
    })();
    return withCallback(result, callback);
  }

  updateAppMetadata(params, metadata, callback) {
    return this.updateUser(params, { app_metadata: metadata }, callback);
  }

  updateUserMetadata(params, metadata, callback) {
    return this.updateUser(params, { user_metadata: metadata }, callback);
  }
}

module.exports = { ManagementClient, ManagementApiError };
