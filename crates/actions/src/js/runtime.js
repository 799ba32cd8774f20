// Installs console, setTimeout and clearTimeout on the global object of one action context,
// and returns the `require` function for the action's CommonJS wrapper.
//
// `host` contains the Rust functions log(level, message), sleep(ms) -> Promise and
// reportUncaught(error).
// `modules` maps a module name to { factory?, host } (built by modules.rs).
(function installRuntime(host, modules) {
  'use strict';

  function formatValue(value) {
    if (typeof value === 'string') return value;
    if (value === undefined) return 'undefined';
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (typeof value === 'function') return `[Function: ${value.name || '(anonymous)'}]`;
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol') return value.toString();
    try {
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch (error) {
      return String(value);
    }
  }

  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => {
      host.log(level, args.map(formatValue).join(' '));
    };
  }
  globalThis.console = console;

  const activeTimers = new Set();
  let nextTimerId = 1;
  globalThis.setTimeout = function setTimeout(callback, delay, ...args) {
    if (typeof callback !== 'function') {
      throw new TypeError('The "callback" argument must be of type function');
    }
    const id = nextTimerId++;
    activeTimers.add(id);
    const milliseconds = Math.max(0, Number(delay) || 0);
    host.sleep(milliseconds).then(() => {
      if (!activeTimers.delete(id)) return;
      try {
        callback(...args);
      } catch (error) {
        host.reportUncaught(error);
      }
    });
    return id;
  };
  globalThis.clearTimeout = function clearTimeout(id) {
    activeTimers.delete(id);
  };

  const cache = new Map();
  function require(name) {
    const key = String(name);
    const cached = cache.get(key);
    if (cached !== undefined) return cached.exports;
    if (!Object.prototype.hasOwnProperty.call(modules, key)) {
      const error = new Error(`Cannot find module '${key}'`);
      error.code = 'MODULE_NOT_FOUND';
      throw error;
    }
    const entry = modules[key];
    const module = { exports: entry.factory ? {} : entry.host };
    cache.set(key, module);
    if (entry.factory) {
      // Cached before it runs, so modules that require each other get the partial exports,
      // and forgotten if it throws, so the next require runs it again, as in Node.
      try {
        entry.factory.call(module.exports, module.exports, require, module, entry.host);
      } catch (error) {
        cache.delete(key);
        throw error;
      }
    }
    return module.exports;
  }
  return require;
})
