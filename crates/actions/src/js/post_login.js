// Builds the `api` object and prepares the `event` object of the post-login trigger.
//
// `host` contains the Rust functions deny(reason), setCustomClaim(token, name, value),
// setMetadata(kind, name, value). Every setter returns `api`, as Auth0's do, so calls chain.
(function postLogin(host) {
  'use strict';

  // Converts a deny reason to the string the client receives. `undefined` and `null` mean no
  // reason. A value whose conversion throws, such as an object with a throwing `toString` or one
  // without a prototype, falls back to its `[object Tag]` form, then to no reason.
  function reasonText(reason) {
    if (reason === undefined || reason === null) return '';
    try {
      return String(reason);
    } catch (error) {
      try {
        return Object.prototype.toString.call(reason);
      } catch (tagError) {
        return '';
      }
    }
  }

  function createApi() {
    const api = {
      access: {
        deny(reason) {
          host.deny(reasonText(reason));
          return api;
        },
      },
      idToken: {
        setCustomClaim(name, value) {
          host.setCustomClaim('id_token', String(name), value);
          return api;
        },
      },
      accessToken: {
        setCustomClaim(name, value) {
          host.setCustomClaim('access_token', String(name), value);
          return api;
        },
      },
      user: {
        setAppMetadata(name, value) {
          host.setMetadata('app_metadata', String(name), value);
          return api;
        },
        setUserMetadata(name, value) {
          host.setMetadata('user_metadata', String(name), value);
          return api;
        },
      },
    };
    return api;
  }

  // `event.secrets` is frozen and cannot be replaced, so an action cannot change what it reads.
  function prepareEvent(event, secrets) {
    Object.defineProperty(event, 'secrets', {
      value: Object.freeze(secrets),
      enumerable: true,
      writable: false,
      configurable: false,
    });
    return event;
  }

  return { createApi, prepareEvent };
})
