/**
 * Records the event this action saw, for debugging what reaches actions.
 *
 * The capture module replaces secret values with "[redacted]"; the broker appends each
 * record to captures/post-login.jsonl in its data directory.
 */
const capture = require('@authbridge/capture');

exports.onExecutePostLogin = async (event) => {
  const capturedAt = new Date().toISOString();
  try {
    capture.record({ captured_at: capturedAt, trigger: 'post-login', event });
  } catch (error) {
    // A debugging aid must not block a login: an event too large or too deep to record
    // leaves a note instead.
    capture.record({ captured_at: capturedAt, trigger: 'post-login', skipped: String(error.message) });
  }
};
