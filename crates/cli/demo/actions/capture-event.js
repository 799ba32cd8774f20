/**
 * Records the event this action saw, for debugging what reaches actions.
 *
 * The capture module replaces secret values with "[redacted]"; the broker appends each
 * record to captures/post-login.jsonl in its data directory.
 */
const capture = require('@authbridge/capture');

exports.onExecutePostLogin = async (event) => {
  capture.record({
    captured_at: new Date().toISOString(),
    trigger: 'post-login',
    event,
  });
};
